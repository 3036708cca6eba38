-- wrk script: loads an NDJSON file of resources that carry their ids, one
-- PUT /fhir/<type>/<id> per line (create-on-update: the normal write path,
-- durable when answered, index rows written in the same transaction).
--
--   wrk -t1 -c64 -d3600s --timeout 30s -s bench/load.lua http://127.0.0.1:PORT -- FILE.ndjson
--
-- One wrk thread (it is plenty: the server is the bottleneck). Once the last
-- line is sent, the connections are kept busy with a small read (GET of the
-- first resource) until every PUT is answered; then the script ends wrk the
-- way Ctrl-C does (SIGINT to wrk, which then prints its summary and runs
-- done()): wrk itself would wait out -d even after the thread stops.
-- done() prints one line "RESULT key=value ..." for bench/search.sh.
-- Any answer to a PUT other than 201 counts as failed (the store is fresh).
--
-- wrk calls request() once before the run to check what it returns, and
-- throws that request away: the first call therefore returns the filler.

local threads = {}

function setup(thread)
	table.insert(threads, thread)
	thread:set("tid", #threads)
end

local headers = { ["Content-Type"] = "application/fhir+json", ["Prefer"] = "return=minimal" }

function init(args)
	local path = assert(args[1], "usage: -- FILE.ndjson")
	assert(tid == 1, "bench/load.lua runs with one wrk thread (-t1)")
	lines = assert(io.open(path)):lines()
	sent, created, failed, fillers, last_failure, eof = 0, 0, 0, 0, "", false
	filler = wrk.format("GET", "/fhir/metadata")	-- replaced by a small read below
	probed = false
end

function request()
	if not probed then	-- wrk's check, thrown away
		probed = true
		return filler
	end
	if not eof then
		local line = lines()
		if line and #line > 0 then
			local rtype, id = line:match('^{"resourceType":"(%a+)","id":"([^"]+)"')
			assert(rtype, "a line without resourceType and id first: " .. line:sub(1, 80))
			if sent == 0 then filler = wrk.format("GET", "/fhir/" .. rtype .. "/" .. id) end
			sent = sent + 1
			return wrk.format("PUT", "/fhir/" .. rtype .. "/" .. id, headers, line)
		end
		eof = true
	end
	return filler
end

function response(status, _, body)
	if status == 201 then
		created = created + 1
	elseif status == 200 and body:sub(1, 16) == '{"resourceType":' then
		fillers = fillers + 1
	else
		failed = failed + 1
		last_failure = status .. " " .. body:sub(1, 300):gsub("%s+", " ")
	end
	if eof and created + failed >= sent and not stopping then
		stopping = true
		wrk.thread:stop()
		-- sh -c's parent is wrk. Not os.execute: system() ignores SIGINT
		-- in the caller while the command runs.
		io.popen("kill -INT $PPID"):close()
	end
end

function done(summary, latency, _)
	local sent_all, created_all, failed_all, last = 0, 0, 0, ""
	for _, t in ipairs(threads) do
		sent_all = sent_all + t:get("sent")
		created_all = created_all + t:get("created")
		failed_all = failed_all + t:get("failed")
		if t:get("last_failure") ~= "" then last = t:get("last_failure") end
	end
	local e = summary.errors
	io.write(string.format("RESULT requests=%d duration_us=%d sent=%d created=%d failed=%d "
		.. "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d "
		.. "p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
		summary.requests, summary.duration, sent_all, created_all, failed_all,
		e.connect, e.read, e.write, e.timeout,
		latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
	if last ~= "" then io.write("LAST_FAILURE " .. last .. "\n") end
end
