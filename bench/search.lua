-- wrk script: searches. GET one of the paths of PATHS_FILE (one a line; lines
-- starting with '#' are comments), picked uniformly at random, so that a run
-- does not ask the same question over and over.
--
--   wrk -t1 -c8 -d8s -s bench/search.lua http://127.0.0.1:PORT -- PATHS_FILE
--
-- Every answer must be 200 (others count as status errors). For each answer
-- the script counts the Bundle's match and include entries and reads its
-- total when there is one (_summary=count). done() prints one line
-- "RESULT key=value ..." that bench/search.sh reads.

local threads = {}

function setup(thread)
	table.insert(threads, thread)
	thread:set("tid", #threads)
end

function init(args)
	local headers = { ["Accept"] = "application/fhir+json" }
	requests = {}
	for line in assert(io.open(args[1])):lines() do
		if #line > 0 and line:sub(1, 1) ~= "#" then
			requests[#requests + 1] = wrk.format("GET", line, headers)
		end
	end
	assert(#requests > 0, "no paths in " .. args[1])
	math.randomseed(20260101 + tid)
	bad, matches, includes, totals, total_sum, last_failure = 0, 0, 0, 0, 0, ""
end

function request()
	return requests[math.random(#requests)]
end

local function count(s, what)
	local n, at = 0, 1
	while true do
		at = s:find(what, at, true)
		if not at then return n end
		n, at = n + 1, at + #what
	end
end

function response(status, _, body)
	if status ~= 200 then
		bad = bad + 1
		last_failure = status .. " " .. body:sub(1, 300):gsub("%s+", " ")
		return
	end
	matches = matches + count(body, '"mode":"match"')
	includes = includes + count(body, '"mode":"include"')
	local head = body:sub(1, 400)
	local total = head:match('"type":"searchset","total":(%d+)')
	if total then
		totals = totals + 1
		total_sum = total_sum + tonumber(total)
	end
end

function done(summary, latency, _)
	local e = summary.errors
	local sum = { bad = 0, matches = 0, includes = 0, totals = 0, total_sum = 0 }
	local last = ""
	for _, t in ipairs(threads) do
		for k in pairs(sum) do sum[k] = sum[k] + t:get(k) end
		if t:get("last_failure") ~= "" then last = t:get("last_failure") end
	end
	io.write(string.format("RESULT requests=%d duration_us=%d bytes=%d status_errors=%d "
		.. "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d "
		.. "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%d "
		.. "matches=%d includes=%d totals=%d total_sum=%d\n",
		summary.requests, summary.duration, summary.bytes, math.max(e.status, sum.bad),
		e.connect, e.read, e.write, e.timeout,
		latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
		latency.mean, sum.matches, sum.includes, sum.totals, sum.total_sum))
	if last ~= "" then io.write("LAST_FAILURE " .. last .. "\n") end
end
