#!/usr/bin/env bash
# The synthetic city as HL7 v2 (issue 7): `lienthong gen --format hl7v2`
# writes adt.hl7 and oru.hl7, the same bytes for the same seed, one ADT^A04
# per patient and one OBX per lab Observation of the NDJSON of the same
# seed; every message sent over MLLP to the real server (`lienthong hl7
# send`) is answered AA, and the Patients, Encounters, DiagnosticReports and
# Observations are then found over the FHIR API.
#
#   LIENTHONG=build/lienthong bash tests/integration/gen_hl7v2.sh
# shellcheck source=tests/integration/lib.sh.inc
. "$(dirname "$0")/lib.sh.inc"
command -v python3 >/dev/null || lt_skip "python3 is not installed"
command -v curl >/dev/null || lt_skip "curl is not installed"
split --help 2>/dev/null | grep -q 'l/N' || lt_skip "split(1) cannot split by lines into N files (GNU coreutils)"
fail() { echo "FAIL $*"; [ -f "$LT_TMP/server.log" ] && tail -n 30 "$LT_TMP/server.log"; exit 1; }
N=200
out="$LT_TMP/hl7"

# 1. Generate; the same seed gives the same bytes; the summary says what was made.
"$LIENTHONG" gen --patients $N --seed 11 --out "$out" --format hl7v2 2>"$LT_TMP/gen.err" ||
	fail "gen --format hl7v2: $(cat "$LT_TMP/gen.err")"
cat "$LT_TMP/gen.err"
grep -q "gen: $N patients, .* HL7 v2 messages (ADT^A04 $N, ORU^R01 .* messages/s, .* MB/s" "$LT_TMP/gen.err" ||
	fail "no summary line"
"$LIENTHONG" gen --patients $N --seed 11 --out "$LT_TMP/again" --format hl7v2 2>/dev/null
cmp -s "$out/adt.hl7" "$LT_TMP/again/adt.hl7" && cmp -s "$out/oru.hl7" "$LT_TMP/again/oru.hl7" ||
	fail "the same seed gave other messages"
"$LIENTHONG" gen --patients $N --seed 11 --out "$LT_TMP/ndjson" 2>/dev/null || fail "gen (NDJSON)"

# 2. The files: messages one a line (segments end with CR, each message
#    with CR LF), control ids unique, as many ADTs as Patients and OBX as
#    lab Observations in the NDJSON of the same seed.
python3 - "$out" "$LT_TMP/ndjson" >"$LT_TMP/counts" <<'PY' || fail "the files do not hold what the NDJSON holds"
import json, sys
out, nd = sys.argv[1], sys.argv[2]
ids, counts = set(), {}
for kind in ("adt", "oru"):
    data = open(f"{out}/{kind}.hl7", "rb").read()
    assert data.endswith(b"\r\n"), kind + ": does not end with CR LF"
    msgs = data[:-2].split(b"\r\n")
    for m in msgs:
        segs = m.split(b"\r")
        assert segs[0].startswith(b"MSH|^~\\&|LTGEN|"), segs[0][:40]
        msh = segs[0].split(b"|")
        assert msh[8] == (b"ADT^A04^ADT_A01" if kind == "adt" else b"ORU^R01^ORU_R01"), msh[8]
        assert msh[11] == b"2.5.1" and msh[17] == b"UNICODE UTF-8", msh
        assert msh[9] not in ids, b"duplicate MSH-10 " + msh[9]
        ids.add(msh[9])
        m.decode("utf-8")
        counts[kind] = counts.get(kind, 0) + 1
        counts["obx"] = counts.get("obx", 0) + sum(s.startswith(b"OBX|") for s in segs)
patients = sum(1 for _ in open(f"{nd}/Patient.ndjson", encoding="utf-8"))
labs = sum('"code":"laboratory"' in l for l in open(f"{nd}/Observation.ndjson", encoding="utf-8"))
assert counts["adt"] == patients, (counts, patients)
assert counts["obx"] == labs, (counts, labs)
print(counts["adt"], counts["oru"], counts["obx"])
PY
read -r n_adt n_oru n_obx <"$LT_TMP/counts"
echo "messages: $n_adt ADT^A04, $n_oru ORU^R01 with $n_obx OBX"
[ "$n_oru" -gt 0 ] && [ "$n_obx" -gt "$n_oru" ] || fail "no results to send"

# 3. Over MLLP: the ADTs first (one connection, in order), then the ORUs on
#    four connections at once. Every message gets AA.
lt_start --mllp 127.0.0.1:0
[ -n "$LT_MLLP" ] || fail "no mllp= in the listening line"
"$LIENTHONG" hl7 send "$out/adt.hl7" --to "$LT_MLLP" >"$LT_TMP/adt.acks" 2>"$LT_TMP/adt.err" ||
	fail "hl7 send adt.hl7: $(cat "$LT_TMP/adt.err"); $(grep -m3 -A1 '^MSA|A[ER]' "$LT_TMP/adt.acks")"
(cd "$LT_TMP" && split -n l/4 "$out/oru.hl7" oru.part.)
pids=()
for f in "$LT_TMP"/oru.part.*; do
	"$LIENTHONG" hl7 send "$f" --to "$LT_MLLP" >"$f.acks" 2>"$f.err" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "hl7 send of a part of oru.hl7: $(cat "$LT_TMP"/oru.part.*.err)"; done
aa=$(cat "$LT_TMP/adt.acks" "$LT_TMP"/oru.part.*.acks | grep -c '^MSA|AA|' || true)
other=$(cat "$LT_TMP/adt.acks" "$LT_TMP"/oru.part.*.acks | grep -c '^MSA|' || true)
echo "ACKs: $aa AA of $other"
[ "$aa" = $((n_adt + n_oru)) ] && [ "$other" = "$aa" ] ||
	fail "$aa AA among $other ACKs for $((n_adt + n_oru)) messages: $(cat "$LT_TMP/adt.acks" "$LT_TMP"/oru.part.*.acks | grep -m3 -A2 '^MSA|A[ER]')"

# 4. What arrived, over FHIR.
count() { curl -sf "$LT_URL/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }
[ "$(count 'Patient?_summary=count')" = "$n_adt" ] || fail "Patients: $(count 'Patient?_summary=count'), want $n_adt"
[ "$(count 'Observation?_summary=count')" = "$n_obx" ] || fail "Observations: $(count 'Observation?_summary=count'), want $n_obx"
[ "$(count 'Encounter?_summary=count')" = "$n_oru" ] || fail "Encounters: $(count 'Encounter?_summary=count'), want $n_oru"
[ "$(count 'DiagnosticReport?_summary=count')" = "$n_oru" ] || fail "DiagnosticReports: $(count 'DiagnosticReport?_summary=count'), want $n_oru"
# Every patient by CCCD and BHYT number, with their name as the NDJSON has it;
# every lab value by patient and code.
python3 - "$LT_URL" "$LT_TMP/ndjson" <<'PY' || fail "the stored resources differ from the NDJSON"
import json, sys, urllib.request, urllib.parse
base, nd = sys.argv[1], sys.argv[2]
def get(q):
    with urllib.request.urlopen(base + "/" + q) as r:
        return json.load(r)
pats = [json.loads(l) for l in open(nd + "/Patient.ndjson", encoding="utf-8")]
labs = [json.loads(l) for l in open(nd + "/Observation.ndjson", encoding="utf-8") if '"code":"laboratory"' in l]
by_id = {}
for p in pats[:40]:
    ids = {i["system"]: i["value"] for i in p["identifier"]}
    for system, value in ids.items():
        b = get("Patient?identifier=" + urllib.parse.quote(system + "|" + value, safe=""))
        assert b["total"] == 1, (system, value, b.get("total"))
        got = b["entry"][0]["resource"]
        assert got["name"][0]["family"] == p["name"][0]["family"], (got["name"], p["name"])
        assert got["name"][0]["given"] == p["name"][0]["given"], (got["name"], p["name"])
        assert got["birthDate"] == p["birthDate"] and got["gender"] == p["gender"]
        by_id[p["id"]] = got["id"]
checked = 0
for o in labs:
    pid = o["subject"]["reference"].split("/")[1]
    if pid not in by_id:
        continue
    code = o["code"]["coding"][0]["code"]
    b = get(f"Observation?subject=Patient/{by_id[pid]}&code=http://loinc.org|{code}&_count=1000")
    values = [(e["resource"]["valueQuantity"]["value"], e["resource"]["effectiveDateTime"])
              for e in b.get("entry", []) if e.get("search", {}).get("mode", "match") == "match"]
    assert (o["valueQuantity"]["value"], o["effectiveDateTime"]) in values, (o["id"], o["valueQuantity"], values)
    checked += 1
assert checked > 40, checked
print(f"{len(by_id)} patients found by every identifier, {checked} lab values found by patient and code, at their time")
PY
nguyen=$(grep -c '"family":"Nguyễn"' "$LT_TMP/ndjson/Patient.ndjson")
[ "$(count 'Patient?family=Nguyen&_summary=count')" = "$nguyen" ] || fail "Patient?family=Nguyen: $(count 'Patient?family=Nguyen&_summary=count'), want $nguyen"
lt_stop || fail "unclean stop"
echo "PASS gen_hl7v2"
