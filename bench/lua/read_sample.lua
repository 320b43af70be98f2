-- wrk script: GET secrets bench/000000 .. bench/<sample-1> (seeded by examples/scheduler_bench.rs)
-- in turn, the threads interleaved, wrapping around, so that a run of a few seconds reads each
-- secret of the sample once or more. `wrk -tT ... -s read_sample.lua URL -- SAMPLE T`
-- (SAMPLE default 10,000; T must be wrk's thread count). Authorization comes from wrk -H.
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function init(args)
  sample = tonumber(args[1]) or 10000
  stride = tonumber(args[2]) or 1
  tid = tid or 0
  n = 0
end

function request()
  local i = (n * stride + tid) % sample
  n = n + 1
  return wrk.format("GET", string.format("/v1/secrets/bench/%06d", i))
end
