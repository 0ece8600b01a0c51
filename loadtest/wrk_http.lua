-- wrk_http.lua — bench_http.sh's wrk script: optional pipelining and request
-- body, and one parseable line of results.
--
--   wrk -t1 -c256 -d5s -s loadtest/wrk_http.lua http://127.0.0.1:47381/plaintext -- pipeline 16
--   wrk -t1 -c256 -d5s -s loadtest/wrk_http.lua http://127.0.0.1:47381/echo -- body 1024
--
-- pipeline N: each write carries N copies of the request, and the next write
--   waits for all N answers; each answer's latency runs from the start of
--   its write (wrk's own rule), so it includes the N-1 answers before it.
-- body BYTES: POST with a body of BYTES 'x's (Content-Type
--   application/octet-stream).
--
-- At the end wrk prints, besides its usual summary:
--   RESULT requests=N duration_us=N bytes=N p50_us=N p99_us=N hidden=F connect=N read=N write=N timeout=N status=N
-- status counts answers outside 2xx and 3xx; connect, read, write and timeout
-- are wrk's socket errors.
--
-- Latency: wrk 4.1 "corrects" its histogram for coordinated omission before
-- done() sees it, adding synthetic samples below each slow one. Under
-- pipelining (where every answer waits at least a whole batch) some land
-- below the histogram's minimum: percentile() counts them but never reaches
-- them, so wrk's own p99 reads 0 and its p50 reads high. The percentiles
-- here are over the samples percentile() can reach; hidden is the fraction
-- it cannot (0 when nothing is hidden, and then they equal wrk's).

init = function(args)
  local depth, body = 1, nil
  -- args[0] is the URL; the rest come in name-value pairs.
  for i = 1, #args, 2 do
    local name, value = args[i], tonumber(args[i + 1])
    if name == "pipeline" and value and value >= 1 then
      depth = value
    elseif name == "body" and value and value >= 0 then
      body = string.rep("x", value)
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
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d hidden=%.4f connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(0.50 * q), latency:percentile(0.99 * q), 1 - q / 100,
    e.connect, e.read, e.write, e.timeout, e.status))
end
