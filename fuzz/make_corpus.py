#!/usr/bin/env python3
"""Regenerates the seed corpora in fuzz/corpus/<target>/ (checked in).

Sources, all in or next to the repository:
  - JSON texts written in the unit tests (tests/unit/test_*.c string literals
    that start with '{' or '['), demo/seed.ndjson;
  - a deterministic sample of the official R4 examples
    (tests/client/node_modules/hl7.fhir.r4.examples/): the smallest example
    of each resource type, then more small ones, at most 300 files;
  - the FHIR JSON Patch tests (../shared/data/fhirpath/json-patch-tests-r4.json),
    one seed per test case;
  - hand-written edge cases (below).
  - fuzz_hl7v2: hand-written HL7 v2 messages (below) and the messages written
    in tests/unit/test_hl7v2.c.
  - fuzz_jwt: the JOSE vectors of tests/data/jose and RFC 7515/7517/8037
    examples, as tokens and as JWKS + token.
Keeps the whole corpus under 2 MB. Run from anywhere: fuzz/make_corpus.py
(fuzz/make_corpus.py fuzz_hl7v2, or fuzz_jwt, rewrites that target's seeds only:
they need nothing outside the repository).
"""
import json
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("LT_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
EXAMPLES = os.path.join(ROOT, "tests/client/node_modules/hl7.fhir.r4.examples")
PATCH_TESTS = os.path.join(SHARED, "data/fhirpath/json-patch-tests-r4.json")
CORPUS = os.path.join(HERE, "corpus")

MAX_EXAMPLES = 300          # R4 examples copied, over all targets
MAX_EXAMPLE_BYTES = 8192    # only small examples
SEP = b"\n@@\n"             # fuzz_jsonpatch: DOC SEP PATCH


def c_string_literals(path):
    """Concatenated C string literals of a source file, decoded to bytes."""
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    out = []
    for m in re.finditer(r'(?:"(?:[^"\\\n]|\\.)*"\s*)+', text):
        chunk = m.group(0)
        value = b""
        for lit in re.findall(r'"((?:[^"\\\n]|\\.)*)"', chunk):
            value += decode_c(lit)
        out.append(value)
    return out


def decode_c(lit):
    b = bytearray()
    i = 0
    raw = lit.encode("utf-8")
    simple = {ord("n"): 10, ord("t"): 9, ord("r"): 13, ord("0"): 0, ord("\\"): 92,
              ord('"'): 34, ord("'"): 39, ord("a"): 7, ord("b"): 8, ord("f"): 12, ord("v"): 11}
    while i < len(raw):
        c = raw[i]
        if c != 92:
            b.append(c)
            i += 1
            continue
        e = raw[i + 1]
        if e == ord("x"):
            j = i + 2
            while j < len(raw) and chr(raw[j]) in "0123456789abcdefABCDEF":
                j += 1
            b.append(int(raw[i + 2:j], 16) & 0xFF)
            i = j
        elif e in simple:
            b.append(simple[e])
            i += 2
        else:
            b.append(e)
            i += 2
    return bytes(b)


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def is_json_object_text(b):
    s = b.lstrip()
    return s[:1] in (b"{", b"[")


def examples():
    """(name, bytes) of the sampled R4 examples, deterministic."""
    if not os.path.isdir(EXAMPLES):
        print("make_corpus: no R4 examples (npm ci --prefix tests/client); skipping them",
              file=sys.stderr)
        return []
    by_type = {}
    for f in sorted(os.listdir(EXAMPLES)):
        if not f.endswith(".json") or not f[:1].isupper():
            continue
        size = os.path.getsize(os.path.join(EXAMPLES, f))
        if size > MAX_EXAMPLE_BYTES:
            continue
        by_type.setdefault(f.split("-")[0], []).append((size, f))
    picked = []
    for t in sorted(by_type):               # the smallest of each type
        by_type[t].sort()
        picked.append(by_type[t].pop(0)[1])
    rank = 1                                # then the next smallest of each, in rounds
    while len(picked) < MAX_EXAMPLES:
        added = False
        for t in sorted(by_type):
            if len(by_type[t]) >= 1 and len(picked) < MAX_EXAMPLES:
                picked.append(by_type[t].pop(len(by_type[t]) // 2)[1])
                added = True
        if not added:
            break
        rank += 1
    return [(f, open(os.path.join(EXAMPLES, f), "rb").read()) for f in picked]


# ---- hand-written edge cases for the JSON front door ----------------------
JSON_EDGES = {
    "num-zero": b"0", "num-zero-nl": b"0\n", "num-negzero": b"-0", "num-frac": b"1.50",
    "num-exp": b"1E+2", "num-huge-exp": b"1e400", "num-tiny": b"-1e-400",
    "int-max": b"9223372036854775807", "int-max-plus1": b"9223372036854775808",
    "int-min": b"-9223372036854775808", "int-min-minus1": b"-9223372036854775809",
    "num-leading-zero": b"[01]", "num-dot": b"[1.]", "num-bare-dot": b"[.5]", "num-plus": b"[+1]",
    "nan": b"[NaN]", "inf": b"[Infinity,-Infinity]", "true": b"true", "null-eof": b"null",
    "str-escapes": b'["\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9"]',
    "str-surrogate-pair": b'["\\ud83d\\ude00"]', "str-lone-high": b'["\\ud800"]',
    "str-lone-low": b'["\\udc00x"]', "str-high-then-bad": b'["\\ud800\\u0041"]',
    "str-nul-escape": b'["\\u0000"]', "str-raw-tab": b'["a\tb"]', "str-bad-escape": b'["\\x41"]',
    "utf8-overlong-slash": b'["\xc0\xaf"]', "utf8-overlong-3": b'["\xe0\x80\xaf"]',
    "utf8-encoded-surrogate": b'["\xed\xa0\x80"]', "utf8-beyond-10ffff": b'["\xf4\x90\x80\x80"]',
    "utf8-truncated": b'["\xe1\xbb"]', "utf8-lone-cont": b'["\x80"]', "utf8-ff": b'["\xff"]',
    "utf8-4byte-ok": b'["\xf0\x9f\x98\x80"]', "bom": b"\xef\xbb\xbf{}",
    "dup-key": b'{"a":1,"a":2}', "dup-key-escaped": b'{"a":1,"\\u0061":2}',
    "dup-key-nested": b'[{"a":{"b":1,"c":2,"b":3}}]', "dup-many": b'{' + b",".join(b'"k%d":%d' % (i % 50, i) for i in range(120)) + b'}',
    "single-quotes": b"{'a':1}", "comment": b"/* c */ {}", "line-comment": b"// c\n{}",
    "trailing-comma-obj": b'{"a":1,}', "trailing-comma-arr": b"[1,]", "missing-colon": b'{"a" 1}',
    "trailing-garbage": b"[1] x", "extra-close": b'{"a":1}}', "mismatch": b"[1}",
    "empty": b"", "ws-only": b" \t\r\n", "key-not-string": b"{1:2}", "unterminated": b'{"a":"b',
    "deep-64": b"[" * 64 + b"]" * 64, "deep-65": b"[" * 65 + b"]" * 65,
    "deep-obj-65": b'{"a":' * 65 + b"1" + b"}" * 65, "deep-unclosed": b"[" * 300,
    "big-array": b"[" + b",".join(b"%d" % i for i in range(2000)) + b"]",
    "control-char-key": b'{"\\u0001":1}', "quote-key": b'{"\\"":1}',
}

API_SEEDS = {
    "metadata": b"GET /fhir/metadata HTTP/1.1\nHost: fhir.test\nAccept: application/fhir+json\n\n",
    "metadata-pretty": b"GET /fhir/metadata?_pretty=true&_format=json HTTP/1.1\n\n",
    "metadata-xml": b"GET /fhir/metadata?_format=xml HTTP/1.1\n\n",
    "metadata-delete": b"DELETE /fhir/metadata HTTP/1.1\n\n",
    "read": b"GET /fhir/Patient/p1 HTTP/1.1\nAccept: application/json\n\n",
    "read-head": b"HEAD /fhir/Patient/p1 HTTP/1.1\n\n",
    "read-inm": b'GET /fhir/Patient/p1 HTTP/1.1\nIf-None-Match: W/"3"\n\n',
    "read-gone": b"GET /fhir/Patient/gone HTTP/1.1\n\n",
    "read-unknown-type": b"GET /fhir/Patientx/p1 HTTP/1.1\n\n",
    "read-bad-id": b"GET /fhir/Patient/a%2F..%2Fb HTTP/1.1\n\n",
    "read-long-id": b"GET /fhir/Patient/" + b"a" * 65 + b" HTTP/1.1\n\n",
    "read-dotdot": b"GET /fhir/Patient/.. HTTP/1.1\n\n",
    "vread": b"GET /fhir/Patient/p1/_history/2 HTTP/1.1\n\n",
    "vread-bad": b"GET /fhir/Patient/p1/_history/-1 HTTP/1.1\n\n",
    "vread-huge": b"GET /fhir/Patient/p1/_history/99999999999999999999 HTTP/1.1\n\n",
    "history-instance": b"GET /fhir/Patient/p1/_history?_count=2 HTTP/1.1\n\n",
    "history-type": b"GET /fhir/Patient/_history?_since=2020-01-01T00:00:00Z&_count=1000 HTTP/1.1\n\n",
    "history-system": b"GET /fhir/_history?_count=1&_cursor=3 HTTP/1.1\nPrefer: handling=strict\n\n",
    "history-bad-count": b"GET /fhir/_history?_count=-1 HTTP/1.1\n\n",
    "history-bad-since": b"GET /fhir/_history?_since=2020-13-45 HTTP/1.1\n\n",
    "search": b"GET /fhir/Patient?name=x HTTP/1.1\n\n",
    "strict-unknown": b"GET /fhir/Patient/p1?foo=bar HTTP/1.1\nPrefer: handling=strict\n\n",
    "operation": b"POST /fhir/Patient/p1/$everything HTTP/1.1\n\n",
    "compartment": b"GET /fhir/Patient/p1/Observation HTTP/1.1\n\n",
    "create": b'POST /fhir/Patient HTTP/1.1\nContent-Type: application/fhir+json\nPrefer: return=representation\n\n'
              b'{"resourceType":"Patient","name":[{"family":"Ph\xe1\xba\xa1m","given":["Minh"]}],"gender":"female","birthDate":"1992-05-17"}',
    "create-minimal": b'POST /fhir/Observation HTTP/1.1\nContent-Type: application/json; charset=utf-8\nPrefer: return=minimal\n\n'
                      b'{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":7.80}}',
    "create-outcome": b'POST /fhir/Patient HTTP/1.1\nContent-Type: application/fhir+json\nPrefer: return=OperationOutcome\n\n{"resourceType":"Patient"}',
    "create-wrong-type": b'POST /fhir/Patient HTTP/1.1\nContent-Type: application/fhir+json\n\n{"resourceType":"Observation"}',
    "create-invalid": b'POST /fhir/Patient HTTP/1.1\nContent-Type: application/fhir+json\n\n{"resourceType":"Patient","birthDate":"19800101","gender":"x"}',
    "create-xml": b'POST /fhir/Patient HTTP/1.1\nContent-Type: application/fhir+xml\n\n<Patient/>',
    "create-latin1": b'POST /fhir/Patient HTTP/1.1\nContent-Type: application/fhir+json; charset=iso-8859-1\n\n{"resourceType":"Patient"}',
    "create-array": b'POST /fhir/Patient HTTP/1.1\nContent-Type: application/fhir+json\n\n[]',
    "create-ine": b'POST /fhir/Patient HTTP/1.1\nContent-Type: application/fhir+json\nIf-None-Exist: identifier=x\n\n{"resourceType":"Patient"}',
    "update": b'PUT /fhir/Patient/p1 HTTP/1.1\nContent-Type: application/fhir+json\nIf-Match: W/"3"\n\n{"resourceType":"Patient","id":"p1","active":true}',
    "update-create": b'PUT /fhir/Patient/new-1 HTTP/1.1\nContent-Type: application/fhir+json\n\n{"resourceType":"Patient","id":"new-1"}',
    "update-id-mismatch": b'PUT /fhir/Patient/p1 HTTP/1.1\nContent-Type: application/fhir+json\n\n{"resourceType":"Patient","id":"p2"}',
    "update-bad-ifmatch": b'PUT /fhir/Patient/p1 HTTP/1.1\nContent-Type: application/fhir+json\nIf-Match: W/"x"\n\n{"resourceType":"Patient","id":"p1"}',
    "update-stale": b'PUT /fhir/Patient/p1 HTTP/1.1\nContent-Type: application/fhir+json\nIf-Match: "1"\n\n{"resourceType":"Patient","id":"p1"}',
    "update-type": b'PUT /fhir/Patient?identifier=x HTTP/1.1\nContent-Type: application/fhir+json\n\n{"resourceType":"Patient"}',
    "patch": b'PATCH /fhir/Patient/p1 HTTP/1.1\nContent-Type: application/json-patch+json\n\n'
             b'[{"op":"test","path":"/id","value":"p1"},{"op":"replace","path":"/active","value":true},'
             b'{"op":"add","path":"/name/0/given/-","value":"Ch\xc3\xa2u"},{"op":"copy","from":"/name/0","path":"/name/-"},'
             b'{"op":"move","from":"/name/1","path":"/name/0"},{"op":"remove","path":"/gender"}]',
    "patch-id": b'PATCH /fhir/Patient/p1 HTTP/1.1\nContent-Type: application/json-patch+json\n\n[{"op":"replace","path":"/id","value":"p9"}]',
    "patch-invalid-result": b'PATCH /fhir/Observation/o1 HTTP/1.1\nContent-Type: application/json-patch+json\n\n[{"op":"remove","path":"/status"}]',
    "patch-obs": b'PATCH /fhir/Observation/o1 HTTP/1.1\nContent-Type: application/json-patch+json\n\n[{"op":"replace","path":"/valueQuantity/value","value":8.10}]',
    "patch-gone": b'PATCH /fhir/Patient/gone HTTP/1.1\nContent-Type: application/json-patch+json\n\n[]',
    "patch-fhirpath": b'PATCH /fhir/Patient/p1 HTTP/1.1\nContent-Type: application/fhir+json\n\n{"resourceType":"Parameters"}',
    "delete": b"DELETE /fhir/Observation/o1 HTTP/1.1\n\n",
    "delete-again": b"DELETE /fhir/Patient/gone HTTP/1.1\n\n",
    "delete-unknown": b"DELETE /fhir/Patient/nobody HTTP/1.1\n\n",
    "trace": b"TRACE /fhir/metadata HTTP/1.1\n\n",
    "options": b"OPTIONS /fhir HTTP/1.1\n\n",
    "system-post": b'POST /fhir HTTP/1.1\nContent-Type: application/fhir+json\n\n{"resourceType":"Bundle","type":"transaction"}',
    "accept-list": b"GET /fhir/Patient/p1 HTTP/1.1\nAccept: text/html, application/xml;q=0.9, */*;q=0.1\n\n",
    "accept-xml": b"GET /fhir/Patient/p1 HTTP/1.1\nAccept: application/fhir+xml\n\n",
    "not-fhir": b"GET /etc/passwd HTTP/1.1\n\n",
    "root": b"GET / HTTP/1.1\n\n",
    "pct-path": b"GET /fhir/%50atient/p%31 HTTP/1.1\n\n",
    "many-params": b"GET /fhir/Patient/p1?" + b"&".join(b"p%d=%d" % (i, i) for i in range(120)) + b" HTTP/1.1\n\n",
    "long-url": b"GET /fhir/metadata?x=" + b"a" * 1100 + b" HTTP/1.1\n\n",
    "host-inject": b'POST /fhir/Patient HTTP/1.1\nHost: evil"\r\nX: y\nContent-Type: application/fhir+json\n\n{"resourceType":"Patient"}',
}


def search_seeds(limit):
    """Requests of tests/data/search/cases.tsv as fuzz_api inputs."""
    from urllib.parse import quote
    path = os.path.join(ROOT, "tests", "data", "search", "cases.tsv")
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if line.startswith("#") or len(fields) < 2 or fields[0] == "name":
                continue
            parts = [p.strip() for p in fields[1].split(" | ")]
            method, target = parts[0].split(" ", 1)
            if "{" in target:
                continue
            target = quote(target, safe="/?&=:,|$%+-._~*!'()[];@")
            head = "%s /fhir%s%s HTTP/1.1\nHost: fuzz.test\n" % (
                method, "" if target.startswith("?") else "/", target)
            body = ""
            for p in parts[1:]:
                if p.startswith("body="):
                    body = p[5:]
                    head += "Content-Type: application/x-www-form-urlencoded\n"
                elif p.startswith("header="):
                    head += p[7:] + "\n"
            out.append((fields[0], (head + "\n" + body).encode("utf-8")))
            if len(out) == limit:
                break
    return out


HL7V2_SEEDS = {
    "oru-cr": b"MSH|^~\\&|LAB|HOSP|EMR|HOSP|20240102030405||ORU^R01^ORU_R01|C1|P|2.5.1|||AL|NE||UNICODE UTF-8\r"
              b"PID|1||123^^^HOSP^MR~456^^^NATION^NI||DOE^JOHN^Q||19700101|M\r"
              b"OBR|1|ORD1|FIL1|24331-1^Lipid panel^LN\r"
              b"OBX|1|NM|2093-3^Cholesterol^LN||190|mg/dL^^UCUM|<200||||F\r"
              b"NTE|1||line one\\.br\\line two \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\X41\\\r",
    "adt-lf-bom": b"\xef\xbb\xbfMSH|^~\\&|ADT|H|||202401011200||ADT^A01|A1|P|2.3\nEVN|A01\nPID|1||9^^^H||NGUY\xe1\xbb\x84N^AN\nZPI|x|y\n",
    "latin1": b"MSH|^~\\&|A|B|||||ADT^A08|L1|P|2.4||||||8859/1\r\nPID|1||1||M\xfcller^J\xe9r\xf4me|\\XE9\\\r\n",
    "v27-trunc": b"MSH|^~\\&#|A|B|||||ORU^R01^ORU_R01|T1|P|2.7\rOBX|1|ST|x||long#|\\P\\\r",
    "odd-delims": b"MSH#$%@!#A#B####ADT$A04#D1#P#2.2\rPID#1##a$b%c!d#@F@@S@@Zx@\r",
    "three-delims": b"MSH|^~}|ADMISSION|ADT1|RADIOLOGY|MIR1|19930502184808||BAR^P01|58|P|2.1\rPID||^^|4^1^M10}F}\r",
    "batch": b"FHS|^~\\&|A\rBHS|^~\\&|A\rMSH|^~\\&|A||||||ADT^A04|B1|P|2.5\rPID|1\rMSH|^~\\&|A||||||ADT^A04|B2|P|2.5\rPID|2\rBTS|2\rFTS|1\r",
    "formatting": b"MSH|^~\\&|A||||||ORU^R01|F1|P|2.5\rOBX|1|FT|x||\\.sp 2\\\\.in+4\\a\\.ti-2\\b\\.sk 3\\\\.fi\\\\.nf\\\\.ce\\c\\H\\d\\N\\\\Cxxyy\\\\XC3A9\\\r",
    "bad-start": b"PID|1||X\r",
    "ack": b"MSH|^~\\&|R|F|S|F|2024||ACK^R01^ACK|9|P|2.5\rMSA|AE|C1\rERR||PID^1^3|102^Data type error^HL70357|E||||text\r",
}


def c_literal_messages():
    """The HL7 v2 texts written in tests/unit/test_hl7v2.c."""
    path = os.path.join(ROOT, "tests/unit/test_hl7v2.c")
    out = []
    for lit in c_string_literals(path):
        body = lit[3:] if lit.startswith(b"\xef\xbb\xbf") else lit
        if body[:3] in (b"MSH", b"FHS", b"BHS") and len(lit) > 8:
            out.append(lit)
    return out


def write_hl7v2():
    for name, data in HL7V2_SEEDS.items():
        write("fuzz_hl7v2", name, data)
    for i, data in enumerate(c_literal_messages()):
        write("fuzz_hl7v2", "unit-%03d" % i, data)


JOSE = os.path.join(ROOT, "tests/data/jose")
RFC7515_A3 = (b"eyJhbGciOiJFUzI1NiJ9"
              b".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
              b".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q")
RFC8037 = (b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
           b".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")
RFC7517_RSA = (b'{"kty":"RSA","alg":"RS256","kid":"2011-04-29","e":"AQAB","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}')
RFC7515_EC = (b'{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",'
              b'"y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}')


def b64url(b):
    import base64
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def write_jwt():
    """fuzz_jwt: tests/data/jose's openssl-made vectors and the RFC examples;
    JWKS SEP TOKEN, or a token alone (checked against fuzz_jwt.c's fixed keys)."""
    def jose(name):
        return open(os.path.join(JOSE, name), "rb").read().strip()
    es, rs = jose("es384.jwt"), jose("rs384.jwt")
    relabel = lambda token, header: b64url(header) + token[token.index(b"."):]
    seeds = {
        "vector-es384": es,
        "vector-rs384": rs,
        "rfc7515-a3": RFC7515_A3,
        "rfc8037": RFC8037,
        "relabelled-es384": relabel(rs, b'{"alg":"ES384","kid":"rs384-1"}'),
        "alg-none": relabel(es, b'{"alg":"none","kid":"es384-1"}')[:-128],
        "crit": relabel(es, b'{"alg":"ES384","kid":"es384-1","crit":["x"]}'),
        "jwks-es384": jose("es384.jwks.json") + SEP + es,
        "jwks-rs384": jose("rs384.jwks.json") + SEP + rs,
        "jwks-rsa1024": jose("rsa1024.jwks.json") + SEP + rs,
        "jwks-rfc": b'{"keys":[' + RFC7517_RSA + b"," + RFC7515_EC + b"]}" + SEP + RFC7515_A3,
        "jwks-private": b'{"keys":[{"kty":"EC","crv":"P-384","d":"AA","x":"AA","y":"AA"}]}' + SEP + es,
        "jwks-oct": b'{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}' + SEP + es,
        "jwks-dup-kid": (b'{"keys":[' + RFC7515_EC[:-1] + b',"kid":"a"},' + RFC7515_EC[:-1]
                         + b',"kid":"a"}]}' + SEP + RFC7515_A3),
    }
    for name, data in seeds.items():
        write("fuzz_jwt", name, data)


def main():
    if sys.argv[1:] == ["fuzz_jwt"]:
        shutil.rmtree(os.path.join(CORPUS, "fuzz_jwt"), ignore_errors=True)
        write_jwt()
        print("fuzz_jwt %d files" % len(os.listdir(os.path.join(CORPUS, "fuzz_jwt"))))
        return
    if sys.argv[1:] == ["fuzz_hl7v2"]:
        shutil.rmtree(os.path.join(CORPUS, "fuzz_hl7v2"), ignore_errors=True)
        write_hl7v2()
        print("fuzz_hl7v2 %d files" % len(os.listdir(os.path.join(CORPUS, "fuzz_hl7v2"))))
        return
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    counts = {}

    # unit-test JSON, demo seed
    unit = []
    for f in sorted(os.listdir(os.path.join(ROOT, "tests/unit"))):
        if f.endswith(".c") and f.startswith("test_") and f != "test_fuzz_regressions.c":
            for i, lit in enumerate(c_string_literals(os.path.join(ROOT, "tests/unit", f))):
                if is_json_object_text(lit) and len(lit) > 2:
                    unit.append(("%s-%03d" % (f[5:-2], i), lit))
    seed = [("demo-%02d" % i, line.encode())
            for i, line in enumerate(open(os.path.join(ROOT, "demo/seed.ndjson"), encoding="utf-8"))
            if line.strip()]
    ex = examples()

    # fuzz_json: edge cases, unit-test texts, every 8th example
    for name, data in JSON_EDGES.items():
        write("fuzz_json", "edge-" + name, data)
    for name, data in unit + seed:
        write("fuzz_json", name, data)
    for name, data in ex[::8]:
        write("fuzz_json", "r4-" + name, data)

    # fuzz_validate: resources
    for name, data in unit + seed:
        if b"resourceType" in data:
            write("fuzz_validate", name, data)
    for name, data in ex:
        write("fuzz_validate", "r4-" + name, data)

    # fuzz_jsonpatch: the official tests, our unit cases, patches on examples
    if os.path.isfile(PATCH_TESTS):
        for i, case in enumerate(json.load(open(PATCH_TESTS, encoding="utf-8"))):
            data = json.dumps(case["doc"]).encode() + SEP + json.dumps(case["patch"]).encode()
            write("fuzz_jsonpatch", "spec-%02d-%s" % (i, case.get("comment", "")[:40]), data)
    else:
        print("make_corpus: %s missing; no JSON Patch test seeds" % PATCH_TESTS, file=sys.stderr)
    patches = [lit for _, lit in unit if lit.lstrip().startswith(b'[{"op"')]
    docs = [lit for _, lit in unit if lit.lstrip().startswith(b"{")]
    for i, p in enumerate(patches):
        write("fuzz_jsonpatch", "unit-patch-%02d" % i, p)  # on the default Patient
        if docs:
            write("fuzz_jsonpatch", "unit-pair-%02d" % i, docs[i % len(docs)] + SEP + p)
    generic = [
        b'[{"op":"add","path":"/name/0/given/0","value":"A"},{"op":"remove","path":"/active"}]',
        b'[{"op":"copy","from":"/name","path":"/contact"},{"op":"move","from":"/extension","path":"/modifierExtension"}]',
        b'[{"op":"test","path":"/meta/versionId","value":"1"},{"op":"replace","path":"","value":{"resourceType":"Patient","id":"p1"}}]',
        b'[{"op":"add","path":"/a~1b~0c","value":[1,2]},{"op":"add","path":"/a~1b~0c/-","value":{"x":null}}]',
        b'[{"op":"move","from":"/name/0/given/1","path":"/name/0/given/0"},{"op":"copy","from":"","path":"/contained"}]',
    ]
    for i, p in enumerate(generic):
        write("fuzz_jsonpatch", "generic-%02d" % i, p)
    for name, data in ex[:: max(1, len(ex) // 10)]:
        write("fuzz_jsonpatch", "r4-" + name, data + SEP + generic[len(name) % len(generic)])

    # fuzz_api: requests, and examples as create/update bodies
    for name, data in API_SEEDS.items():
        write("fuzz_api", name, data)
    for name, data in ex[3:: max(1, len(ex) // 30)]:
        try:
            r = json.loads(data)
        except ValueError:
            continue
        t, rid = r.get("resourceType", "Patient"), r.get("id")
        if rid:
            head = b"PUT /fhir/%s/%s HTTP/1.1\n" % (t.encode(), rid.encode())
        else:
            head = b"POST /fhir/%s HTTP/1.1\n" % t.encode()
        write("fuzz_api", "r4-" + name, head + b"Content-Type: application/fhir+json\n\n" + data)

    # fuzz_api: searches, from the hand-written search suite (the first 80 cases)
    for name, data in search_seeds(80):
        write("fuzz_api", "search-" + name, data)

    # fuzz_hl7v2: HL7 v2 messages
    write_hl7v2()
    write_jwt()

    total = 0
    for t in sorted(os.listdir(CORPUS)):
        d = os.path.join(CORPUS, t)
        files = os.listdir(d)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in files)
        total += size
        counts[t] = (len(files), size)
    for t, (n, size) in counts.items():
        print("%-16s %4d files %8d bytes" % (t, n, size))
    print("total %d bytes" % total)
    if total > 2 * 1024 * 1024:
        sys.exit("make_corpus: corpus over 2 MB")


if __name__ == "__main__":
    main()
