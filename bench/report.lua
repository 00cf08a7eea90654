-- wrk script: optional JSON POST (BENCH_BODY), and one parseable summary
-- line, with the 5xx answers counted by status across wrk's threads.
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  s5xx, s502, s503, s504 = 0, 0, 0, 0
end

response = function(status, headers, body)
  if status >= 500 then
    s5xx = s5xx + 1
    if status == 502 then s502 = s502 + 1 end
    if status == 503 then s503 = s503 + 1 end
    if status == 504 then s504 = s504 + 1 end
  end
end

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  local t5, t2, t3, t4 = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    t5 = t5 + t:get("s5xx")
    t2 = t2 + t:get("s502")
    t3 = t3 + t:get("s503")
    t4 = t4 + t:get("s504")
  end
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d"
    .. " s5xx=%d s502=%d s503=%d s504=%d\n",
    summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, errors, t5, t2, t3, t4))
end
