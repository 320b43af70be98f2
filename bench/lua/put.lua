-- wrk script: PUT a new version to one of a handful of paths (bench/w0..w7), round-robin,
-- and count responses by status ("statuses: 200=123 409=4" at the end).
-- Authorization and Content-Type come from wrk -H on the command line
-- (wrk.format with nil headers uses wrk.headers, which holds them).
local npaths = 8
local threads = {}
local next_id = 0
local n = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counts = {}
  tid = tid or 0
end

function request()
  n = n + 1
  local path = string.format("/v1/secrets/bench/w%d", (n + tid) % npaths)
  local body = string.format(
    '{"data":{"client_id":"3MVG9-bench","client_secret":"%032d"}}', n * 2 + tid)
  return wrk.format("PUT", path, nil, body)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for s, k in pairs(t:get("counts") or {}) do total[s] = (total[s] or 0) + k end
  end
  local keys = {}
  for s in pairs(total) do table.insert(keys, s) end
  table.sort(keys)
  local parts = {}
  for _, s in ipairs(keys) do table.insert(parts, s .. "=" .. total[s]) end
  io.write("statuses: " .. table.concat(parts, " ") .. "\n")
end
