-- wrk script for bench/run: GET a manifest by tag the way docker 20.10
-- asks for it (one Accept line per media type it understands), and count
-- every answer that is not 2xx, per status code. wrk's own "Non-2xx or 3xx"
-- line misses 3xx; this one does not.
--
-- Prints, after wrk's summary:
--   NON2XX <count>
--   STATUS <code>=<count> ...

local accept = {
   "application/vnd.docker.distribution.manifest.v2+json",
   "application/vnd.docker.distribution.manifest.list.v2+json",
   "application/vnd.oci.image.manifest.v1+json",
   "application/vnd.oci.image.index.v1+json",
   "application/vnd.docker.distribution.manifest.v1+prettyjws",
   "application/json",
}

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   non2xx = 0
   statuses = {}
   local lines = {
      "GET " .. wrk.path .. " HTTP/1.1",
      "Host: " .. wrk.headers["Host"],
      "User-Agent: docker/20.10.24+dfsg1 go/go1.19.8 git-commit/5d6db84 kernel/6.1.0 os/linux arch/amd64 UpstreamClient(Docker-Client/20.10.24+dfsg1 \\(linux\\))",
      "Accept-Encoding: gzip",
   }
   for _, t in ipairs(accept) do
      lines[#lines + 1] = "Accept: " .. t
   end
   -- bench/token-auth: the same request with a bearer token
   local authz = os.getenv("BENCH_AUTHORIZATION")
   if authz and authz ~= "" then
      lines[#lines + 1] = "Authorization: " .. authz
   end
   local raw = table.concat(lines, "\r\n") .. "\r\n\r\n"
   -- wrk.init builds its static request with wrk.format() right after
   -- init(): answering with our own text keeps the request static (no Lua
   -- call per request) while allowing repeated Accept lines.
   wrk.format = function() return raw end
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
   io.write(string.format("NON2XX %d\n", total))
   io.write("STATUS " .. table.concat(parts, " ") .. "\n")
   io.write(string.format("LATENCY_P50_US %d\nLATENCY_P99_US %d\n",
      latency:percentile(50), latency:percentile(99)))
end
