-- wrk script: count responses by HTTP status and print them at the end (one line,
-- "statuses: 200=123 500=4"). Used only to diagnose a run that reported non-2xx
-- responses: a response() callback costs wrk some throughput.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counts = {}
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for s, k in pairs(c) do total[s] = (total[s] or 0) + k end
  end
  local keys = {}
  for s in pairs(total) do table.insert(keys, s) end
  table.sort(keys)
  local parts = {}
  for _, s in ipairs(keys) do table.insert(parts, s .. "=" .. total[s]) end
  io.write("statuses: " .. table.concat(parts, " ") .. "\n")
end
