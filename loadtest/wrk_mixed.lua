-- wrk_mixed.lua — soak.sh's wrk script: mixed requests, chosen per request,
-- counted per kind.
--
--   wrk -t1 -c64 -d60s -s loadtest/wrk_mixed.lua http://127.0.0.1:27390/ -- abort 10
--   wrk -t3 -c24 -d60s -s loadtest/wrk_mixed.lua http://127.0.0.1:27390/ -- echo 4096 closefrom 3
--
-- abort N: keep-alive GET /plaintext, every Nth request GET /abort instead
--   (the handler sends part of an answer, then aborts: the server cuts the
--   connection, wrk counts a read error and reconnects).
-- echo BYTES: POST /echo with a body of BYTES 'x's (keep-alive).
-- closefrom K: threads K and up (numbered from 1) send GET /plaintext with
--   `Connection: close` instead (a connection per request). wrk splits -c
--   evenly over -t, so `-t3 -c24 -- echo 4096 closefrom 3` is 16 echo
--   connections and 8 closing ones. (Lua never learns -t, hence a number.)
--
-- At the end, besides wrk's summary:
--   MIXED plaintext=N abort=N echo=N close=N requests=N connect=N read=N write=N timeout=N status=N
-- where the first four count requests written (by kind; an /abort is counted
-- when sent, though its answer never completes) and the rest are wrk's.

local threads = {}
local nextId = 0
local abortEvery, echoBytes, closeFrom = 0, nil, math.huge

local function parse(args)
  for i = 1, #args, 2 do
    local name, value = args[i], tonumber(args[i + 1])
    if name == "abort" and value and value >= 1 then
      abortEvery = value
    elseif name == "echo" and value and value >= 0 then
      echoBytes = value
    elseif name == "closefrom" and value and value >= 1 then
      closeFrom = value
    else
      error("wrk_mixed.lua: bad arguments near '" .. tostring(name) .. "'")
    end
  end
end

-- setup runs in the main Lua state, once per thread, before that thread's
-- init: it numbers the threads (the global id in each thread's own state)
-- and keeps them so that done() can read their counts.
setup = function(thread)
  nextId = nextId + 1
  thread:set("id", nextId)
  table.insert(threads, thread)
end

init = function(args)
  parse(args)
  counts = { plaintext = 0, abort = 0, echo = 0, close = 0 } -- global: thread:get reads it
  local closing = id >= closeFrom
  local plain = wrk.format("GET", "/plaintext")
  local abort = wrk.format("GET", "/abort")
  local closeReq = wrk.format("GET", "/plaintext", { ["Connection"] = "close" })
  local echoReq = echoBytes and wrk.format("POST", "/echo",
    { ["Content-Type"] = "application/octet-stream" }, string.rep("x", echoBytes))
  local n = 0
  request = function()
    if closing then
      counts.close = counts.close + 1
      return closeReq
    elseif echoReq then
      counts.echo = counts.echo + 1
      return echoReq
    end
    n = n + 1
    if abortEvery > 0 and n % abortEvery == 0 then
      counts.abort = counts.abort + 1
      return abort
    end
    counts.plaintext = counts.plaintext + 1
    return plain
  end
end

done = function(summary, latency, requests)
  local sum = { plaintext = 0, abort = 0, echo = 0, close = 0 }
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do sum[k] = sum[k] + v end
  end
  local e = summary.errors
  io.write(string.format(
    "MIXED plaintext=%d abort=%d echo=%d close=%d requests=%d connect=%d read=%d write=%d timeout=%d status=%d\n",
    sum.plaintext, sum.abort, sum.echo, sum.close, summary.requests,
    e.connect, e.read, e.write, e.timeout, e.status))
end
