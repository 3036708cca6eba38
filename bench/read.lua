-- wrk script: read by id. GET PREFIX<id> for ids picked uniformly at random
-- from IDS_FILE (one a line); the same script and ids drive lienthong and
-- nginx, so both see the same paths with the same distribution.
--
--   wrk -t1 -c64 -d20s -s bench/read.lua http://127.0.0.1:PORT -- IDS_FILE [PREFIX]
--
-- No response() on purpose: wrk then skips parsing bodies, and status codes
-- above 399 are still counted (summary.errors.status).

local threads = {}

function setup(thread)
	table.insert(threads, thread)
	thread:set("tid", #threads)
end

function init(args)
	local prefix = args[2] or "/fhir/Patient/"
	local headers = { ["Accept"] = "application/fhir+json" }
	-- BENCH_TOKEN: read with a bearer token (bench/auth.sh).
	local token = os.getenv("BENCH_TOKEN")
	if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
	requests = {}
	for id in assert(io.open(args[1])):lines() do
		requests[#requests + 1] = wrk.format("GET", prefix .. id, headers)
	end
	assert(#requests > 0, "no ids in " .. args[1])
	math.randomseed(20250101 + tid)
end

function request()
	return requests[math.random(#requests)]
end

function done(summary, latency, _)
	local e = summary.errors
	io.write(string.format("RESULT requests=%d duration_us=%d bytes=%d status_errors=%d "
		.. "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d "
		.. "p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
		summary.requests, summary.duration, summary.bytes, e.status,
		e.connect, e.read, e.write, e.timeout,
		latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
