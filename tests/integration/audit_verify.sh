#!/usr/bin/env bash
# The audit trail (decision 0016): records appended through store_audit
# (tests/tools/audit_fill: a known trail; the request path is audited in security.sh) are
# served as AuditEvent and cannot be written through the API; `lienthong
# audit verify` passes on the trail as written, then names the record at
# fault after each edit made with the sqlite3 CLI behind lienthong's back:
# a field altered, a record deleted, two records' contents swapped, the
# newest records cut off; and it refuses to run without the key.
. "$(dirname "$0")/lib.sh.inc"
: "${LT_TOOLS_DIR:?set LT_TOOLS_DIR to the build directory holding audit_fill}"
command -v sqlite3 >/dev/null || lt_skip "the sqlite3 CLI is not installed"
command -v curl >/dev/null || lt_skip "curl is not installed"
[ -x "$LT_TOOLS_DIR/audit_fill" ] || { echo "no $LT_TOOLS_DIR/audit_fill: build first" >&2; exit 1; }
fail() { echo "FAIL: $*" >&2; exit 1; }
DB="$LT_DATA/audit.db"	# the trail's own file (decision 0023)

"$LT_TOOLS_DIR/audit_fill" "$LT_DATA" 50 >/dev/null || fail "audit_fill"

# ---- the API: searched and read, never written ---------------------------------
lt_start --audit off	# the trail holds audit_fill's records only
curl -s -o "$LT_TMP/p1.json" "$LT_URL/AuditEvent?patient=Patient/p1&_count=5"
curl -s -o "$LT_TMP/p1-next.json" "$LT_URL/AuditEvent?patient=p1&_count=5&_cursor=29"
curl -s -o "$LT_TMP/comp.json" "$LT_URL/Patient/p1/AuditEvent?agent=user/u2"
curl -s -o "$LT_TMP/five.json" "$LT_URL/AuditEvent/5"
curl -s -o "$LT_TMP/dated.json" "$LT_URL/AuditEvent?date=ge2026-01-01T00:10:00Z&date=lt2026-01-01T00:12:00Z"
read_missing=$(curl -s -o /dev/null -w '%{http_code}' "$LT_URL/AuditEvent/999")
post=$(curl -s -o "$LT_TMP/post.json" -w '%{http_code}' -X POST -H 'Content-Type: application/fhir+json' \
	-d '{"resourceType":"AuditEvent"}' "$LT_URL/AuditEvent")
put=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/fhir+json' \
	-d '{"resourceType":"AuditEvent","id":"5"}' "$LT_URL/AuditEvent/5")
del=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$LT_URL/AuditEvent/5")
lt_stop
[ "$read_missing" = 404 ] || fail "GET AuditEvent/999 gave $read_missing"
[ "$post" = 405 ] && [ "$put" = 405 ] && [ "$del" = 405 ] || fail "writes to AuditEvent gave $post $put $del"
python3 - "$LT_TMP" <<'PY' || fail "AuditEvent bundles"
import json, sys
d = sys.argv[1]
load = lambda n: json.load(open(f"{d}/{n}.json", encoding="utf-8"))
b = load("p1")
ids = [e["resource"]["id"] for e in b["entry"]]
assert b["type"] == "searchset" and ids == ["49", "45", "41", "37", "33"], ids
nxt = [l["url"] for l in b["link"] if l["relation"] == "next"]
assert nxt and nxt[0].endswith("_cursor=33"), b["link"]
for e in b["entry"]:
    r = e["resource"]
    assert r["resourceType"] == "AuditEvent"
    assert any(x.get("what", {}).get("reference") == "Patient/p1" and x["role"]["code"] == "1"
               for x in r["entity"]), r
b = load("p1-next")
assert [e["resource"]["id"] for e in b["entry"]] == ["25", "21", "17", "13", "9"], b
b = load("comp")
assert [e["resource"]["id"] for e in b["entry"]] == ["41", "29", "17", "5"], b
r = load("five")
assert r["id"] == "5" and r["meta"]["security"][0]["code"] == "BTG", r
assert r["purposeOfEvent"][0]["coding"][0]["code"] == "ETREAT", r
assert r["purposeOfEvent"][0]["text"] == "emergency: patient unconscious", r
assert r["agent"][0]["who"]["display"] == "user/u2" and r["agent"][0]["requestor"] is True, r
assert r["agent"][0]["network"]["address"] == "10.0.0.5", r
assert r["subtype"][0] == {"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}, r
assert r["type"]["code"] == "rest" and r["outcome"] == "0" and r["action"] == "R", r
assert r["recorded"] == "2026-01-01T00:05:00.000Z", r
b = load("dated")
assert [e["resource"]["id"] for e in b["entry"]] == ["11", "10"], b
assert b["entry"][1]["resource"]["type"]["code"] == "110112", b	# a search: Query
assert load("post")["resourceType"] == "OperationOutcome"
PY

# ---- verify ---------------------------------------------------------------------
out=$("$LIENTHONG" audit verify --data "$LT_DATA") || fail "verify of an intact trail: $out"
[ "$out" = "audit trail: 50 records, intact" ] || fail "verify said: $out"
list=$("$LIENTHONG" audit list --data "$LT_DATA" --patient Patient/p2 --limit 2)
echo "$list" | grep -q '^ *50  2026-01-01T00:50:00.000Z  user/u2 ' || fail "audit list: $list"
echo "$list" | grep -q '^ *46  2026-01-01T00:46:00.000Z  user/u1 ' || fail "audit list: $list"
[ "$(echo "$list" | wc -l)" -eq 3 ] || fail "audit list --limit 2: $list"

# A pristine copy to restore between cases (no process has the store open).
sqlite3 "$DB" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
cp "$DB" "$LT_TMP/pristine.db"
restore() { rm -f "$DB-wal" "$DB-shm"; cp "$LT_TMP/pristine.db" "$DB"; }

# expect_problems SQL LINE... : after SQL, verify exits 1 and prints exactly these lines.
expect_problems() {
	local sql=$1 rc=0 got want
	shift
	restore
	sqlite3 "$DB" "$sql" || fail "sqlite3: $sql"
	got=$("$LIENTHONG" audit verify --data "$LT_DATA" 2>/dev/null) || rc=$?
	want=$(printf '%s\n' "$@")
	[ $rc -eq 1 ] || fail "verify exited $rc after: $sql"
	[ "$got" = "$want" ] || fail "after: $sql
verify said:
$got
expected:
$want"
}

expect_problems "UPDATE audit SET agent='user/mallory' WHERE seq=17" \
	"audit record 17: altered (its content does not match its hash)"
expect_problems "DELETE FROM audit WHERE seq=23" \
	"audit record 23: deleted"
expect_problems "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (10, 30);
UPDATE audit SET (tenant, at_ms, agent, action, subtype, entity, patient, source, outcome, purpose,
	flags, detail) = (SELECT tenant, at_ms, agent, action, subtype, entity, patient, source,
	outcome, purpose, flags, detail FROM t WHERE t.seq = 40 - audit.seq) WHERE seq IN (10, 30)" \
	"audit record 10: reordered (its content is now in record 30)" \
	"audit record 30: reordered (its content is now in record 10)"
expect_problems "UPDATE audit SET seq = -seq WHERE seq IN (12, 13);
UPDATE audit SET seq = CASE seq WHEN -12 THEN 13 ELSE 12 END WHERE seq < 0" \
	"audit record 12: reordered (it holds record 13, moved here)" \
	"audit record 13: reordered (it holds record 12, moved here)"
expect_problems "DELETE FROM audit WHERE seq > 45" \
	"audit record 46: truncated (records 46 to 50, the newest, are missing)"
expect_problems "UPDATE audit SET outcome=200 WHERE seq=7; DELETE FROM audit WHERE seq BETWEEN 30 AND 32" \
	"audit record 7: altered (its content does not match its hash)" \
	"audit record 30: deleted (records 30 to 32 are missing)"

# Restored, it is whole again; the writer goes on after a cut, which stays visible.
restore
out=$("$LIENTHONG" audit verify --data "$LT_DATA") || fail "verify after restore: $out"
sqlite3 "$DB" "DELETE FROM audit WHERE seq > 48"
"$LT_TOOLS_DIR/audit_fill" "$LT_DATA" 1 >/dev/null || fail "audit_fill after a cut"
rc=0; out=$("$LIENTHONG" audit verify --data "$LT_DATA" 2>/dev/null) || rc=$?
[ $rc -eq 1 ] && [ "$out" = "audit record 49: deleted (records 49 to 50 are missing)" ] ||
	fail "after a cut and a new record: $rc $out"

# Without its key the store refuses to open, and says why.
restore
mv "$LT_DATA/keys/audit.key" "$LT_TMP/audit.key"
rc=0; err=$("$LIENTHONG" audit verify --data "$LT_DATA" 2>&1 >/dev/null) || rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q 'audit.key is missing' || fail "without the key: $rc $err"
mv "$LT_TMP/audit.key" "$LT_DATA/keys/audit.key"

echo "audit_verify: API, verify and six kinds of tampering as expected"
