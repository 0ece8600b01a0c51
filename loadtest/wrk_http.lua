-- wrk_http.lua — run.sh's wrk script: optional pipelining, request body or
-- aborted requests, and one parseable line of results.
--
--   wrk -t1 -c256 -d5s -s loadtest/wrk_http.lua http://127.0.0.1:47381/plaintext -- pipeline 16
--   wrk -t1 -c256 -d5s -s loadtest/wrk_http.lua http://127.0.0.1:47381/echo -- body 1024
--   wrk -t1 -c256 -d5s -s loadtest/wrk_http.lua http://127.0.0.1:47381/plaintext -- abort 10
--
-- pipeline N: each write carries N copies of the request, and the next write
--   waits for all N answers; each answer's latency runs from the start of
--   its write (wrk's own rule), so it includes the N-1 answers before it.
-- body BYTES: POST with a body of BYTES 'x's (Content-Type
--   application/octet-stream).
-- abort N: every Nth request is GET /abort, which the server cuts mid-answer
--   (hello: head and part of the body, then Goexit; Go: a flush, then
--   panic(http.ErrAbortHandler)). wrk never calls response() for a cut
--   answer: it counts a read error and reconnects. So the script counts,
--   per thread, the /abort requests it wrote (aborts) and the other answers
--   that came back 2xx/3xx (ok); run.sh checks that wrk's errors do not
--   exceed aborts. Defining request() and response() makes wrk call Lua on
--   every write and every answer, so this mode measures the abort path, not
--   peak rate.
--
-- At the end wrk prints, besides its usual summary:
--   RESULT requests=N duration_us=N bytes=N p50_us=N p99_us=N p999_us=N hidden=F connect=N read=N write=N timeout=N status=N aborts=N ok=N
-- status counts answers outside 2xx and 3xx; connect, read, write and timeout
-- are wrk's socket errors; aborts and ok are 0 unless abort N is given.
--
-- Latency: wrk 4.1 "corrects" its histogram for coordinated omission before
-- done() sees it, adding synthetic samples below each slow one. Under
-- pipelining (where every answer waits at least a whole batch) some land
-- below the histogram's minimum: percentile() counts them but never reaches
-- them, so wrk's own p99 reads 0 and its p50 reads high. The percentiles
-- here are over the samples percentile() can reach; hidden is the fraction
-- it cannot (0 when nothing is hidden, and then they equal wrk's).

-- Per thread (globals, so done() can read them with thread:get).
aborts, ok = 0, 0

-- setup runs in the main Lua state, once per thread, before its init.
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  local depth, body, every = 1, nil, nil
  -- args[0] is the URL; the rest come in name-value pairs.
  for i = 1, #args, 2 do
    local name, value = args[i], tonumber(args[i + 1])
    if name == "pipeline" and value and value >= 1 then
      depth = value
    elseif name == "body" and value and value >= 0 then
      body = string.rep("x", value)
    elseif name == "abort" and value and value >= 2 then
      every = value
    else
      error("wrk_http.lua: bad arguments near '" .. tostring(name) .. "'")
    end
  end
  if body then
    wrk.method = "POST"
    wrk.body = body
    wrk.headers["Content-Type"] = "application/octet-stream"
  end
  if depth > 1 then
    local r = {}
    for i = 1, depth do
      r[i] = wrk.format()
    end
    local batch = table.concat(r)
    -- Defined only here: with a request() function wrk calls Lua for every
    -- write, so unpipelined runs keep wrk's static request instead.
    request = function()
      return batch
    end
  end
  if every then
    if depth > 1 then
      error("wrk_http.lua: abort and pipeline do not mix")
    end
    local plain, cut, n = wrk.format(), wrk.format("GET", "/abort"), 0
    -- wrk also calls this once before the run to check the request (its
    -- pipeline count); that call returns a plain one and is not counted.
    request = function()
      n = n + 1
      if n % every == 0 then
        aborts = aborts + 1
        return cut
      end
      return plain
    end
    -- Called for complete answers only: a cut /abort never gets here.
    response = function(status)
      if status < 400 then
        ok = ok + 1
      end
    end
  end
end

-- reachable: the largest q at which latency:percentile(q) still finds a
-- sample (it answers 0 past the last reachable one), as a percentage of all
-- the samples it counts. Each call walks the histogram once (at most 2e6
-- buckets for --timeout 2s), so 50 halvings cost little.
local function reachable(latency)
  if latency:percentile(100) ~= 0 then
    return 100
  end
  local lo, hi = 0, 100
  for _ = 1, 50 do
    local mid = (lo + hi) / 2
    if latency:percentile(mid) ~= 0 then lo = mid else hi = mid end
  end
  return lo
end

done = function(summary, latency, requests)
  local e = summary.errors
  local q = reachable(latency)
  local sent, answered = 0, 0
  for _, t in ipairs(threads) do
    sent = sent + t:get("aborts")
    answered = answered + t:get("ok")
  end
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d p999_us=%d hidden=%.4f connect=%d read=%d write=%d timeout=%d status=%d aborts=%d ok=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(0.50 * q), latency:percentile(0.99 * q), latency:percentile(0.999 * q), 1 - q / 100,
    e.connect, e.read, e.write, e.timeout, e.status, sent, answered))
end
