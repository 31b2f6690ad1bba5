-- wrk script of the overhead benchmark: sets the request from the environment and prints one
-- machine-readable line with the percentiles wrk's --latency table lacks (P95).
--   WRK_METHOD   GET | POST (default GET)
--   WRK_HEADERS  "name: value" pairs separated by "|"
--   WRK_BODY     path of a file sent as the request body
local method = os.getenv("WRK_METHOD")
if method and method ~= "" then wrk.method = method end
local headers = os.getenv("WRK_HEADERS")
if headers and headers ~= "" then
  for pair in string.gmatch(headers, "[^|]+") do
    local name, value = string.match(pair, "^%s*([^:]+):%s*(.*)$")
    if name then wrk.headers[name] = value end
  end
end
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  local f = assert(io.open(body, "rb"))
  wrk.body = f:read("*a")
  f:close()
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"status_errors":%d,"socket_errors":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
