-- wrk script: POST /api/v1/subscriptions with a unique address per request.
-- Each wrk thread gets its own prefix so addresses never collide; wrk
-- processes started at once draw the same random numbers, so each names
-- itself with an argument (wrk ... URL -- NAME).
local counter = 0
local prefix = ""
function setup(thread)
  thread:set("tid", tostring(math.random(1, 1e9)))
end
function init(args)
  prefix = "b" .. (args[1] or "") .. (tid or tostring(math.random(1, 1e9))) .. "x" .. tostring(os.time())
end
request = function()
  counter = counter + 1
  local body = '{"email":"' .. prefix .. "n" .. counter .. '@example.org","first_name":"Bench","source":"wrk"}'
  return wrk.format("POST", "/api/v1/subscriptions", {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("non-2xx-or-3xx: %d, errors: connect %d read %d write %d timeout %d\n",
    summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
