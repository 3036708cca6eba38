-- wrk script: durable creates. POST /fhir/Patient with one of 1024 pre-built
-- Patients (Vietnamese names, ~700 bytes); each id the server assigns is read
-- from the Location header of the 201 and appended to OUTDIR/ids-<thread>.txt.
--
--   wrk -t2 -c32 -d25s --timeout 10s -s bench/create.lua http://127.0.0.1:PORT -- OUTDIR
--
-- done() prints one line "RESULT key=value ..." that bench/run.sh reads.

local threads = {}

function setup(thread)
	table.insert(threads, thread)
	thread:set("tid", #threads)
end

local families = { "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ",
	"Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý" }
local givens = { "An", "Bình", "Cường", "Dũng", "Hà", "Hạnh", "Hồng", "Hùng", "Lan",
	"Linh", "Mai", "Nam", "Phương", "Quân", "Thảo", "Trang", "Tuấn", "Yến" }
local places = {
	{ "12 Phố Huế", "Hai Bà Trưng", "Hà Nội" },
	{ "45 Lê Lợi", "Quận 1", "Hồ Chí Minh" },
	{ "8 Bạch Đằng", "Hải Châu", "Đà Nẵng" },
	{ "103 Trần Hưng Đạo", "Ninh Kiều", "Cần Thơ" },
	{ "27 Lê Duẩn", "Phú Nhuận", "Huế" },
}

local function patient(k)
	local female = k % 2 == 0
	local family = families[k % #families + 1]
	local middle = female and "Thị" or "Văn"
	local given = givens[(k * 7) % #givens + 1]
	local place = places[k % #places + 1]
	return string.format('{"resourceType":"Patient",'
		.. '"identifier":[{"use":"official","system":"http://lienthong.example/cccd","value":"0010%08d"}],'
		.. '"active":true,'
		.. '"name":[{"use":"official","text":"%s %s %s","family":"%s","given":["%s","%s"]}],'
		.. '"telecom":[{"system":"phone","value":"+84 9%02d %03d %03d","use":"mobile"}],'
		.. '"gender":"%s","birthDate":"%04d-%02d-%02d",'
		.. '"address":[{"use":"home","line":["%s"],"district":"%s","city":"%s","country":"VN"}],'
		.. '"communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"vi","display":"Vietnamese"}]},"preferred":true}]}',
		k, family, middle, given, family, middle, given,
		k % 100, k % 1000, (k * 13) % 1000,
		female and "female" or "male", 1940 + k % 80, k % 12 + 1, k % 28 + 1,
		place[1], place[2], place[3])
end

function init(args)
	local outdir = args[1] or "."
	ids = assert(io.open(string.format("%s/ids-%d.txt", outdir, tid), "a"))
	created, failed, nolocation, last_failure = 0, 0, 0, ""
	requests = {}
	local headers = { ["Content-Type"] = "application/fhir+json", ["Accept"] = "application/fhir+json" }
	for k = 1, 1024 do
		requests[k] = wrk.format("POST", "/fhir/Patient", headers, patient(k + 1024 * tid))
	end
	n = 0
end

function request()
	n = n + 1
	return requests[n % 1024 + 1]
end

local function location_of(headers)
	local v = headers["Location"] or headers["location"]
	if v then return v end
	for name, value in pairs(headers) do
		if name:lower() == "location" then return value end
	end
end

function response(status, headers, body)
	if status == 201 then
		local id = (location_of(headers) or ""):match("/Patient/([^/]+)/_history/")
		if id then
			ids:write(id, "\n")
			created = created + 1
		else
			nolocation = nolocation + 1
		end
	else
		failed = failed + 1
		last_failure = status .. " " .. body:sub(1, 300):gsub("%s+", " ")
	end
end

function done(summary, latency, _)
	local created_all, failed_all, nolocation_all, last = 0, 0, 0, ""
	for _, t in ipairs(threads) do
		created_all = created_all + t:get("created")
		failed_all = failed_all + t:get("failed")
		nolocation_all = nolocation_all + t:get("nolocation")
		if t:get("last_failure") ~= "" then last = t:get("last_failure") end
	end
	local e = summary.errors
	io.write(string.format("RESULT requests=%d duration_us=%d created=%d failed=%d no_location=%d "
		.. "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d "
		.. "p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
		summary.requests, summary.duration, created_all, failed_all, nolocation_all,
		e.connect, e.read, e.write, e.timeout,
		latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
	if last ~= "" then io.write("LAST_FAILURE " .. last .. "\n") end
end
