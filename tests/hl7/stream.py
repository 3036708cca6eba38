#!/usr/bin/env python3
"""Streams ORU^R01 messages (one report, ten observations each) over MLLP and
records which were acknowledged AA; or checks that each of those is stored
exactly once. Standard library only. Used by tests/integration/hl7_crash.sh
and by the benchmark (bench/hl7.sh).

  stream.py send --to HOST:PORT --out ACKED --conns 4 [--count N] [--seconds S] [--prefix P]
  stream.py verify --base http://HOST:PORT/fhir ACKED
  stream.py resend --to HOST:PORT ACKED      # every one again: AA, nothing new
"""
import argparse, json, socket, sys, threading, time, urllib.request

SB, EB = b"\x0b", b"\x1c\x0d"
TESTS = [("718-7", "Hemoglobin", "g/dL"), ("6690-2", "WBC", "10*3/uL"), ("789-8", "RBC", "10*6/uL"),
         ("4544-3", "Hematocrit", "%"), ("787-2", "MCV", "fL"), ("785-6", "MCH", "pg"),
         ("786-4", "MCHC", "g/dL"), ("777-3", "Platelets", "10*3/uL"), ("770-8", "Neutrophils", "%"),
         ("736-9", "Lymphocytes", "%")]


def oru(cid, patient):
    cccd = "0792%08d" % patient
    segs = ["MSH|^~\\&|LIS|CHORAY|LIENTHONG|SOYTE|20261122083000||ORU^R01^ORU_R01|%s|P|2.5.1" % cid,
            "PID|1||%s^^^BCA^NI||Nguyen^Van %d||19800101|M" % (cccd, patient),
            "OBR|1|ORD-%s|FIL-%s|58410-2^CBC panel^LN|||20261122080000|||||||||||||||20261122082500||HM|F"
            % (cid, cid)]
    for i, (code, name, unit) in enumerate(TESTS):
        segs.append("OBX|%d|NM|%s^%s^LN||%d.%d|%s^^UCUM|||N|||F" % (i + 1, code, name, 10 + i, patient % 10, unit))
    return ("\r".join(segs) + "\r").encode()


class Conn:
    def __init__(self, to):
        host, port = to.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=60)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def call(self, msg):
        self.s.sendall(SB + msg + EB)
        while True:
            i, j = self.buf.find(SB), self.buf.find(EB)
            if i >= 0 and j > i:
                ack, self.buf = self.buf[i + 1:j], self.buf[j + 2:]
                return ack.decode("utf-8", "replace")
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk


def msa(ack):
    for seg in ack.replace("\n", "\r").split("\r"):
        if seg.startswith("MSA|"):
            return seg.split("|")[1]
    return "?"


def send(a):
    out = open(a.out, "a", buffering=1)
    lock = threading.Lock()
    stats = {"aa": 0, "other": 0, "lat": []}
    deadline = time.perf_counter() + a.seconds if a.seconds else 0

    def run(c):
        try:
            conn = Conn(a.to)
            for i in range(a.count):
                if deadline and time.perf_counter() > deadline:
                    break
                cid = "%s-%d-%d" % (a.prefix, c, i)
                t0 = time.perf_counter()
                code = msa(conn.call(oru(cid, c * 1000 + i % 50)))
                dt = time.perf_counter() - t0
                with lock:
                    stats["lat"].append(dt)
                    if code == "AA":
                        stats["aa"] += 1
                        out.write(cid + "\n")
                    else:
                        stats["other"] += 1
        except (OSError, ConnectionError):
            pass

    t0 = time.perf_counter()
    th = [threading.Thread(target=run, args=(c,)) for c in range(a.conns)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    secs = time.perf_counter() - t0
    lat = sorted(stats["lat"]) or [0]
    print(json.dumps({"acked": stats["aa"], "other": stats["other"], "seconds": round(secs, 2),
                      "messages_per_s": round(stats["aa"] / secs) if secs else 0,
                      "p50_ms": round(lat[len(lat) // 2] * 1000, 2),
                      "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 2)}))
    return 0 if stats["other"] == 0 else 1


def get(base, path):
    with urllib.request.urlopen(base + "/" + path, timeout=60) as r:
        return json.load(r)


def verify(a):
    ids = [l.strip() for l in open(a.acked) if l.strip()]
    bad = 0
    for cid in ids:
        b = get(a.base, "DiagnosticReport?identifier=FIL-%s&_include=DiagnosticReport:result" % cid)
        reports = [e for e in b.get("entry", []) if e["resource"]["resourceType"] == "DiagnosticReport"]
        obs = [e for e in b.get("entry", []) if e["resource"]["resourceType"] == "Observation"]
        if len(reports) != 1 or len(obs) != 10:
            print("message %s: %d reports, %d observations" % (cid, len(reports), len(obs)))
            bad += 1
    print("verified %d acknowledged messages, %d wrong" % (len(ids), bad))
    return 1 if bad else 0


def resend(a):
    conn, bad = Conn(a.to), 0
    ids = [l.strip() for l in open(a.acked) if l.strip()]
    for cid in ids:
        c, i = cid.split("-")[-2:]
        if msa(conn.call(oru(cid, int(c) * 1000 + int(i) % 50))) != "AA":
            bad += 1
    print("resent %d, %d not AA" % (len(ids), bad))
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--to", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--conns", type=int, default=4)
    s.add_argument("--count", type=int, default=1000000)
    s.add_argument("--prefix", default="CR")
    s.add_argument("--seconds", type=float, default=0, help="stop after this long (0: --count)")
    v = sub.add_parser("verify")
    v.add_argument("--base", required=True)
    v.add_argument("acked")
    r = sub.add_parser("resend")
    r.add_argument("--to", required=True)
    r.add_argument("acked")
    a = p.parse_args()
    return {"send": send, "verify": verify, "resend": resend}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
