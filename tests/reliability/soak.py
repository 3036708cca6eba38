#!/usr/bin/env python3
"""Soak test (issue 8): mixed load on one server for a while, sampled every
interval, to show what grows.

Client threads, each in a loop: create a Patient (POST), read it back, update
it (PUT with If-Match), search (by name, and Observations by code with
_include), a transaction Bundle of a Patient and two Observations, and, on
every fourth loop, an ORU^R01 over MLLP. Every answer is checked (status, and
the body where it matters); anything else is an error.

Every --interval seconds: the server's RSS (VmRSS), its open file descriptors
(/proc/PID/fd), requests and errors in the interval, and the latency p50/p99
of the interval. The first sample after --warmup seconds is the baseline.

usage: soak.py LIENTHONG [--minutes M] [--clients N] [--interval S] [--warmup S]
                         [--max-rss-growth PCT] [--report FILE]
Exits 1 when any request failed, file descriptors besides the store
connections' database files grew, the server did not stop cleanly, or RSS
grew more than --max-rss-growth percent over the baseline (growth is judged
only over at least 10 minutes after the warm-up: caches fill for longer than
a short run lasts).
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

FAMILIES = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Phan", "Đặng"]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat = []            # seconds, this interval
        self.requests = 0
        self.errors = 0
        self.first_errors = []

    def add(self, seconds, ok, what):
        with self.lock:
            self.lat.append(seconds)
            self.requests += 1
            if not ok:
                self.errors += 1
                if len(self.first_errors) < 10:
                    self.first_errors.append(what)

    def take(self):
        with self.lock:
            lat, n, e = self.lat, self.requests, self.errors
            self.lat, self.requests, self.errors = [], 0, 0
        return lat, n, e


def pct(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100.0 * len(s)))]


def mllp_send(port, msg):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"\x0b" + msg.encode() + b"\x1c\r")
        buf = b""
        while b"\x1c\r" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return buf.decode(errors="replace")


class Client(threading.Thread):
    def __init__(self, n, port, mllp, stats, stop):
        super().__init__(daemon=True)
        self.n, self.port, self.mllp, self.stats, self.stop = n, port, mllp, stats, stop
        self.rng = random.Random(n)
        self.conn = None
        self.loops = 0

    def call(self, method, path, body=None, headers=None, want=(200,)):
        h = {"Accept": "application/fhir+json"}
        if body is not None:
            h["Content-Type"] = "application/fhir+json"
        h.update(headers or {})
        t0 = time.monotonic()
        status, data, etag = None, b"", None
        for attempt in range(2):     # one reconnect if the keep-alive closed
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.conn.request(method, path, body=json.dumps(body) if body is not None else None,
                                  headers=h)
                r = self.conn.getresponse()
                status, data, etag = r.status, r.read(), r.getheader("ETag")
                break
            except (http.client.HTTPException, OSError):
                self.conn = None
                if attempt:
                    status = None
        ok = status in want
        self.stats.add(time.monotonic() - t0, ok, "%s %s -> %s %s" % (method, path, status, data[:200]))
        return status, data, etag

    def run(self):
        while not self.stop.is_set():
            self.loops += 1
            fam = self.rng.choice(FAMILIES)
            given = "S%d-%dx" % (self.n, self.loops)  # "x": a prefix of no other given name
            p = {"resourceType": "Patient", "name": [{"family": fam, "given": ["Văn", given]}],
                 "gender": "male", "birthDate": "1980-01-%02d" % (1 + self.loops % 28)}
            st, data, etag = self.call("POST", "/fhir/Patient", p, want=(201,))
            if st != 201:
                continue
            pid = json.loads(data)["id"]
            self.call("GET", "/fhir/Patient/" + pid)
            p["id"] = pid
            p["active"] = True
            self.call("PUT", "/fhir/Patient/" + pid, p, headers={"If-Match": etag or 'W/"1"'})
            self.call("GET", "/fhir/Patient?name=%s&_count=5" % given)
            self.call("GET", "/fhir/Observation?code=http://loinc.org%%7C2345-7&_count=10"
                             "&_include=Observation:subject")
            tx = {"resourceType": "Bundle", "type": "transaction", "entry": [
                {"fullUrl": "urn:uuid:%08d-0000-4000-8000-%012d" % (self.n, self.loops),
                 "resource": {"resourceType": "Patient", "name": [{"family": fam, "given": [given + "t"]}]},
                 "request": {"method": "POST", "url": "Patient"}}] + [
                {"resource": {"resourceType": "Observation", "status": "final",
                              "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
                              "valueQuantity": {"value": 5.0 + k, "unit": "mmol/L",
                                                "system": "http://unitsofmeasure.org", "code": "mmol/L"},
                              "subject": {"reference": "urn:uuid:%08d-0000-4000-8000-%012d" % (self.n, self.loops)}},
                 "request": {"method": "POST", "url": "Observation"}} for k in range(2)]}
            self.call("POST", "/fhir", tx)
            if self.mllp and self.loops % 4 == 0:
                cid = "SOAK-%d-%d" % (self.n, self.loops)
                msg = ("MSH|^~\\&|LIS|79001|LT|SYT|20261122090000||ORU^R01^ORU_R01|%s|P|2.5.1\r"
                       "PID|1||0793%08d^^^BCA^NI||%s^Van^%s||19800101|M\r"
                       "OBR|1|ORD-%s|LAB-%s|2345-7^Glucose^LN|||20261122080000\r"
                       "OBX|1|NM|2345-7^Glucose^LN||%d|mg/dL|70-99|N|||F|||20261122080000\r"
                       % (cid, self.n * 100000 + self.loops, fam, given, cid, cid, 80 + self.loops % 40))
                t0 = time.monotonic()
                try:
                    ack = mllp_send(self.mllp, msg)
                except OSError as e:
                    ack = "no answer: %s" % e
                self.stats.add(time.monotonic() - t0, "MSA|AA|" + cid in ack, "ORU %s -> %r" % (cid, ack[:200]))


class HeapLog:
    """The server's last 'memory: U MiB in use, F MiB free in the heap, P MiB
    of pages in use, T MiB touched, R readers' line (serve.c logs one at
    debug level every 10 s), as U/F P/T R."""

    def __init__(self, path):
        self.f, self.value = open(path, "rb"), "?"

    def last(self):
        for line in self.f.read().decode("utf-8", "replace").splitlines():
            if "memory: " in line:
                n = re.findall(r"(\d+) MiB", line)
                r = re.search(r"(\d+) readers", line)
                if len(n) == 4 and r:
                    self.value = "%s/%s %s/%s %s" % (tuple(n) + (r.group(1),))
        return self.value


# Files every store connection holds open (the writer and each pooled reader):
# the pool grows with concurrency up to its bound, so these are not judged.
DB_FILES = ("lienthong.db", "lienthong.db-wal", "audit.db", "audit.db-wal")


def proc_status(pid):
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    fds = os.listdir("/proc/%d/fd" % pid)
    db = 0
    for fd in fds:
        try:
            db += os.path.basename(os.readlink("/proc/%d/fd/%s" % (pid, fd))) in DB_FILES
        except OSError:
            pass            # closed meanwhile
    return rss, len(fds), len(fds) - db


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--interval", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=60)
    ap.add_argument("--max-rss-growth", type=float, default=5.0)
    ap.add_argument("--report")
    ap.add_argument("--heap", action="store_true",
                    help="run the server at log level debug and show its heap (in use, free) from "
                         "its 'memory:' lines: tells a leak from caches and fragmentation (the log "
                         "then holds a line per request)")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="lt-soak.")
    log = open(os.path.join(tmp, "server.log"), "ab")
    env = dict(os.environ, LIENTHONG_LOG_LEVEL="debug") if a.heap else None
    proc = subprocess.Popen([a.binary, "serve", "--data", os.path.join(tmp, "data"), "--listen",
                             "127.0.0.1:0", "--mllp", "127.0.0.1:0", "--auth", "off"],
                            stdout=subprocess.PIPE, stderr=log, env=env)
    heap = HeapLog(os.path.join(tmp, "server.log")) if a.heap else None
    line = proc.stdout.readline().decode()
    if not line.startswith("listening http="):
        print("soak: the server did not start: %r" % line, file=sys.stderr)
        return 1
    port = int(line.split("http=")[1].split()[0].rsplit(":", 1)[1])
    mllp = int(line.split("mllp=")[1].split()[0].rsplit(":", 1)[1]) if "mllp=" in line else 0

    stats, stop = Stats(), threading.Event()
    clients = [Client(i, port, mllp, stats, stop) for i in range(a.clients)]
    for c in clients:
        c.start()
    t_start = time.monotonic()
    end = t_start + a.minutes * 60
    rows, baseline, total_req, total_err = [], None, 0, 0
    print("soak: %d clients for %.1f min, a sample every %.0f s (pid %d, data in %s)"
          % (a.clients, a.minutes, a.interval, proc.pid, tmp), flush=True)
    print("   t s   req/s   errors   p50 ms   p99 ms   RSS MiB   fds other" + ("   heap used/free  pages used/touched MiB  readers" if heap else ""),
          flush=True)
    next_t = t_start + a.interval
    while time.monotonic() < end:
        time.sleep(max(0.0, next_t - time.monotonic()))
        next_t += a.interval
        lat, n, e = stats.take()
        rss, fds, other = proc_status(proc.pid)
        t = time.monotonic() - t_start
        total_req += n
        total_err += e
        row = (t, n / a.interval, e, pct(lat, 50) * 1000, pct(lat, 99) * 1000, rss / 1024.0, fds, other)
        rows.append(row)
        if baseline is None and t >= a.warmup:
            baseline = row
        print("%6.0f %7.0f %8d %8.1f %8.1f %9.1f %5d %5d" % row + ("   %s" % heap.last() if heap else ""),
              flush=True)
    stop.set()
    for c in clients:
        c.join(timeout=120)
    proc.send_signal(signal.SIGTERM)
    rc_server = proc.wait(timeout=120)

    after = [r for r in rows if baseline and r[0] >= baseline[0]]
    last = rows[-1] if rows else None
    growth = (last[5] - baseline[5]) / baseline[5] * 100 if baseline and last else 0.0
    peak = max(r[5] for r in after) if after else 0.0
    # open files besides the store connections' (DB_FILES) move with the HTTP
    # and MLLP connections of the moment: growth is when the fewest of the last
    # minute exceed the most of the first minute after the warm-up
    first, recent = after[:6], after[-6:]
    fd_growth = (min(r[7] for r in recent) - max(r[7] for r in first)) if after else 0
    judged = bool(after) and after[-1][0] - after[0][0] >= 600
    fails = []
    if total_err:
        fails.append("%d requests failed, first: %s" % (total_err, "; ".join(stats.first_errors[:3])))
    if rc_server != 0:
        fails.append("the server exited with %d on SIGTERM" % rc_server)
    if judged and fd_growth > 0:
        fails.append("open files grew: at least %d (besides the store's connections) in the last "
                     "minute, at most %d in the first after the warm-up"
                     % (min(r[7] for r in recent), max(r[7] for r in first)))
    if judged and growth > a.max_rss_growth:
        fails.append("RSS grew %.1f%% (limit %.1f%%)" % (growth, a.max_rss_growth))
    summary = ("soak: %.1f min, %d clients, %d requests, %d errors; RSS %.1f MiB at %.0f s -> %.1f MiB "
               "at the end (%+.1f%%, peak %.1f MiB); open files %d -> %d; p99 of the last interval "
               "%.1f ms%s" % (a.minutes, a.clients, total_req, total_err,
                              baseline[5] if baseline else 0, baseline[0] if baseline else 0,
                              last[5] if last else 0, growth, peak, baseline[6] if baseline else 0,
                              last[6] if last else 0, last[4] if last else 0,
                              "" if judged else " (too short to judge growth)"))
    print(summary, flush=True)
    if a.report:
        with open(a.report, "w") as f:
            f.write(summary + "\n")
            for r in rows:
                f.write("%.0f\t%.0f\t%d\t%.1f\t%.1f\t%.1f\t%d\t%d\n" % r)
    for m in fails:
        print("FAIL: " + m, file=sys.stderr)
    if not fails:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
