-- wrk script for the seed product API (bench/seed/seed_bench.sh).
--
-- Requests: GET /products/<id>, and with probability SEED_MULTI_PCT percent
-- GET /products?ids=a,b,... with SEED_MULTI_IDS ids. Ids follow a Zipf-like
-- (s = 1) law over SEED_ROWS products: rank = floor((N+1)^u) for u uniform
-- in [0,1), so P(rank <= k) ~ ln(k)/ln(N) (the top 1,000 of 100,000 get
-- 60% of lookups, the top 10,000 get 80%), and rank is mapped to an id by
-- a fixed permutation (rank * 7919 mod N) so hot products are spread over
-- the table instead of being its first pages. Each wrk thread has its own
-- fixed random seed.
--
-- done() writes to SEED_HIST (when set): "requests N", "errors N",
-- "duration_us N", then "lat <microseconds> <count>" for every latency wrk
-- recorded, so runs of one mode can be merged into exact percentiles.

local rows = tonumber(os.getenv("SEED_ROWS") or "100000")
local multi_pct = tonumber(os.getenv("SEED_MULTI_PCT") or "10")
local multi_ids = tonumber(os.getenv("SEED_MULTI_IDS") or "10")
local hist_file = os.getenv("SEED_HIST")
if hist_file == "" then hist_file = nil end
local log_base = math.log(rows + 1)

local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_seed", 7001 * thread_count)
end

function init(args)
  math.randomseed(thread_seed or 1)
end

local function zipf_id()
  local rank = math.floor(math.exp(math.random() * log_base))
  if rank < 1 then rank = 1 end
  if rank > rows then rank = rows end
  return ((rank - 1) * 7919) % rows + 1
end

function request()
  if math.random() * 100 < multi_pct then
    local ids = {}
    for i = 1, multi_ids do ids[i] = zipf_id() end
    return wrk.format("GET", "/products?ids=" .. table.concat(ids, ","))
  end
  return wrk.format("GET", "/products/" .. zipf_id())
end

function done(summary, latency, requests)
  if not hist_file then return end
  local f = assert(io.open(hist_file, "w"))
  local e = summary.errors
  f:write(string.format("requests %d\n", summary.requests))
  f:write(string.format("errors %d\n", e.connect + e.read + e.write + e.status + e.timeout))
  f:write(string.format("duration_us %d\n", summary.duration))
  for i = 1, #latency do
    local value, count = latency(i)
    f:write(string.format("lat %d %d\n", value, count))
  end
  f:close()
end
