-- load-reads.lua - the read side of t1490-load, for wrk: manifest GETs by
-- tag, blob GETs and tag lists, picked at random per request, with the
-- Bearer token in LOAD_AUTHORIZATION. Usage:
--   wrk -s load-reads.lua URL -- REPO DIGEST...
-- Prints after wrk's summary: NON2XX <count>, STATUS <code>=<n> ...,
-- REQUESTS <n>, P50_US / P99_US / MAX_US (wrk's latency record).
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   non2xx = 0
   statuses = {}
   local repo = args[1]
   local h = {
      ["Authorization"] = os.getenv("LOAD_AUTHORIZATION"),
      ["Accept"] = "application/vnd.oci.image.manifest.v1+json",
   }
   reqs = {}
   for _ = 1, 3 do
      reqs[#reqs + 1] = wrk.format("GET", "/v2/" .. repo .. "/manifests/v1", h)
   end
   for i = 2, #args do
      reqs[#reqs + 1] = wrk.format("GET", "/v2/" .. repo .. "/blobs/" .. args[i], h)
   end
   reqs[#reqs + 1] = wrk.format("GET", "/v2/" .. repo .. "/tags/list", h)
   math.randomseed(os.time() + #threads)
end

function request()
   return reqs[math.random(#reqs)]
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      statuses[status] = (statuses[status] or 0) + 1
   end
end

function done(summary, latency, requests)
   local total, by = 0, {}
   for _, t in ipairs(threads) do
      total = total + t:get("non2xx")
      for code, n in pairs(t:get("statuses")) do
         by[code] = (by[code] or 0) + n
      end
   end
   local parts = {}
   for code, n in pairs(by) do
      parts[#parts + 1] = code .. "=" .. n
   end
   local e = summary.errors
   io.write(string.format("NON2XX %d\n", total))
   io.write("STATUS " .. table.concat(parts, " ") .. "\n")
   io.write(string.format("REQUESTS %d\nSOCKET_ERRORS %d\n", summary.requests,
      e.connect + e.read + e.write + e.status + e.timeout))
   io.write(string.format("P50_US %d\nP99_US %d\nMAX_US %d\n",
      latency:percentile(50), latency:percentile(99), latency.max))
end
