#!/usr/bin/env python3
"""load.py - many registry clients at once, for t1490-load.

  load.py seed HOST:PORT TOKEN REPO FILE
      Push a config, a 64 KiB and a 1 MiB layer and a manifest tagged v1;
      keep them in FILE for load, print the three blob digests.
  load.py load HOST:PORT TOKEN REPO FILE CLIENTS SECONDS
      CLIENTS threads, each with its own keep-alive connection, for SECONDS:
      manifest GETs by tag, blob HEADs and GETs (body length and digest
      checked), tag lists, monolithic and chunked blob pushes, now and then
      a manifest PUT. Prints one JSON line: requests, failures (with the
      first few reasons), latency percentiles in ms.
  load.py slow HOST:PORT TOKEN REPO DIGEST N SECONDS
      N of each kind of bad client for SECONDS: readers of the blob DIGEST
      at 1 KiB/s, requests whose headers stop half way, uploads whose body
      stops half way. Prints how many were still connected at the end.

Only http.client and sockets from the standard library: no HTTP parsing here
beyond what http.client does.
"""
import hashlib
import http.client
import json
import os
import random
import socket
import sys
import threading
import time

OCI_M = "application/vnd.oci.image.manifest.v1+json"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


class Client:
    def __init__(self, host, port, token):
        self.host, self.port, self.auth = host, port, "Bearer " + token
        self.conn = None

    def req(self, method, path, body=None, headers=None):
        """One request on the kept-alive connection: (status, headers, body)."""
        h = {"Authorization": self.auth}
        h.update(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                if r.will_close:
                    self.conn.close()
                    self.conn = None
                return r.status, r, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # a kept-alive connection the server closed between requests
                # (idle timeout) is retried once on a new one, as clients do
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


def push_blob(c, repo, data):
    s, r, _ = c.req("POST", f"/v2/{repo}/blobs/uploads/?digest={sha(data)}", data,
                    {"Content-Type": "application/octet-stream"})
    if s != 201:
        raise RuntimeError(f"monolithic push: {s}")


def push_chunked(c, repo, data):
    s, r, _ = c.req("POST", f"/v2/{repo}/blobs/uploads/", b"")
    if s != 202:
        raise RuntimeError(f"upload start: {s}")
    loc = r.getheader("Location")
    half = len(data) // 2
    for start, end in ((0, half), (half, len(data))):
        s, r, _ = c.req("PATCH", loc, data[start:end],
                        {"Content-Type": "application/octet-stream",
                         "Content-Range": f"{start}-{end - 1}"})
        if s != 202:
            raise RuntimeError(f"PATCH {start}-{end - 1}: {s}")
        loc = r.getheader("Location")
    sep = "&" if "?" in loc else "?"
    s, r, _ = c.req("PUT", f"{loc}{sep}digest={sha(data)}", b"")
    if s != 201:
        raise RuntimeError(f"upload close: {s}")


def manifest_for(cfg, layers):
    def desc(mt, b):
        return {"mediaType": mt, "digest": sha(b), "size": len(b)}
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_M,
                       "config": desc("application/vnd.oci.image.config.v1+json", cfg),
                       "layers": [desc("application/vnd.oci.image.layer.v1.tar", l)
                                  for l in layers]}).encode()


def seed(c, repo):
    """A config, a 64 KiB and a 1 MiB layer, a manifest tagged v1."""
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layers = [os.urandom(64 << 10), os.urandom(1 << 20)]
    for b in [cfg] + layers:
        push_blob(c, repo, b)
    m = manifest_for(cfg, layers)
    s, _, _ = c.req("PUT", f"/v2/{repo}/manifests/v1", m, {"Content-Type": OCI_M})
    if s != 201:
        raise RuntimeError(f"seed manifest PUT: {s}")
    return cfg, layers, m


def run_seed(addr, token, repo, out):
    host, port = addr.rsplit(":", 1)
    cfg, layers, manifest = seed(Client(host, int(port), token), repo)
    with open(out, "w") as f:
        json.dump({"config": cfg.hex(), "layers": [l.hex() for l in layers],
                   "manifest": manifest.decode()}, f)
    print(" ".join(sha(b) for b in [cfg] + layers))


def run_load(addr, token, repo, seedfile, clients, seconds):
    host, port = addr.rsplit(":", 1)
    port = int(port)
    with open(seedfile) as f:
        sd = json.load(f)
    cfg, layers = bytes.fromhex(sd["config"]), [bytes.fromhex(l) for l in sd["layers"]]
    manifest = sd["manifest"].encode()
    blobs = [cfg] + layers
    lat, fails, counts, by_op = [], [], {}, {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    start_gate = threading.Barrier(clients)

    def op(c, rnd, n):
        k = rnd.random()
        if k < 0.30:
            s, r, body = c.req("GET", f"/v2/{repo}/manifests/v1", headers={"Accept": OCI_M})
            if s != 200 or body != manifest:
                raise RuntimeError(f"manifest GET: {s}, {len(body)} bytes")
            return "manifest-get"
        if k < 0.50:
            b = rnd.choice(blobs)
            s, r, _ = c.req("HEAD", f"/v2/{repo}/blobs/{sha(b)}")
            if s != 200 or r.getheader("Content-Length") != str(len(b)):
                raise RuntimeError(f"blob HEAD: {s}")
            return "blob-head"
        if k < 0.70:
            b = rnd.choice(blobs)
            s, r, body = c.req("GET", f"/v2/{repo}/blobs/{sha(b)}")
            if s != 200 or body != b:
                raise RuntimeError(f"blob GET: {s}, {len(body)} of {len(b)} bytes")
            return "blob-get"
        if k < 0.80:
            s, r, body = c.req("GET", f"/v2/{repo}/tags/list")
            if s != 200 or "v1" not in json.loads(body).get("tags", []):
                raise RuntimeError(f"tags list: {s}")
            return "tags-list"
        data = os.urandom(rnd.randint(1, 32) << 10)
        if k < 0.88:
            push_blob(c, repo, data)
            return "push-monolithic"
        if k < 0.96:
            push_chunked(c, repo, data)
            return "push-chunked"
        push_blob(c, repo, data)
        m = manifest_for(cfg, [data])
        s, _, _ = c.req("PUT", f"/v2/{repo}/manifests/t{n % 20}", m, {"Content-Type": OCI_M})
        if s != 201:
            raise RuntimeError(f"manifest PUT: {s}")
        return "manifest-put"

    def worker(n):
        c = Client(host, port, token)
        rnd = random.Random(n)
        mine, myfails, mycounts, myops = [], [], {}, {}
        start_gate.wait()
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            what = "failed"
            try:
                what = op(c, rnd, n)
                mycounts[what] = mycounts.get(what, 0) + 1
            except Exception as e:  # noqa: BLE001 - every failure is counted
                myfails.append(f"{type(e).__name__}: {e}")
                if c.conn:
                    c.conn.close()
                c.conn = None
            mine.append(time.monotonic() - t0)
            myops.setdefault(what, []).append(mine[-1])
        if c.conn:
            c.conn.close()
        with lock:
            lat.extend(mine)
            fails.extend(myfails)
            for k, v in mycounts.items():
                counts[k] = counts.get(k, 0) + v
            for k, v in myops.items():
                by_op.setdefault(k, []).extend(v)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    lat.sort()

    def pct(p, xs=lat):
        return round(xs[min(len(xs) - 1, int(len(xs) * p))] * 1000, 1) if xs else 0
    for v in by_op.values():
        v.sort()
    print(json.dumps({"clients": clients, "seconds": round(wall, 1), "requests": len(lat),
                      "failures": len(fails), "first_failures": sorted(set(fails))[:5],
                      "per_second": round(len(lat) / wall, 1),
                      "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0),
                      "ops": counts,
                      "p99_ms_by_op": {k: pct(0.99, v) for k, v in sorted(by_op.items())}}))


def run_slow(addr, token, repo, digest, n, seconds):
    host, port = addr.rsplit(":", 1)
    port = int(port)
    auth = f"Authorization: Bearer {token}\r\n"
    alive = {"reader": 0, "headers": 0, "body": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def sock():
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((host, port))
        return s

    def hold(kind, s):
        """Keep s open, reading at 1 KiB/s, until the deadline or a close."""
        s.settimeout(1.0)
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                if not s.recv(1024):
                    s.close()
                    return
            except socket.timeout:
                pass
            except OSError:
                return
            time.sleep(max(0, 1.0 - (time.monotonic() - t0)))
        with lock:
            alive[kind] += 1
        s.close()

    def reader():
        s = sock()
        s.sendall(f"GET /v2/{repo}/blobs/{digest} HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\n".encode())
        hold("reader", s)

    def half_headers():
        s = sock()
        s.sendall(f"GET /v2/{repo}/tags/list HTTP/1.1\r\nHost: {addr}\r\n".encode())
        hold("headers", s)

    def half_body():
        s = sock()
        c = Client(host, port, token)
        st, r, _ = c.req("POST", f"/v2/{repo}/blobs/uploads/", b"")
        c.conn.close()
        loc = r.getheader("Location") if st == 202 else f"/v2/{repo}/blobs/uploads/x"
        s.sendall((f"PATCH {loc} HTTP/1.1\r\nHost: {addr}\r\n{auth}"
                   f"Content-Type: application/octet-stream\r\nContent-Length: {1 << 20}\r\n\r\n")
                  .encode() + os.urandom(512 << 10))
        hold("body", s)

    threads = []
    for f in (reader, half_headers, half_body):
        for _ in range(n):
            threads.append(threading.Thread(target=f))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(alive))


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "seed":
        run_seed(a[2], a[3], a[4], a[5])
    elif a[1] == "load":
        run_load(a[2], a[3], a[4], a[5], int(a[6]), float(a[7]))
    elif a[1] == "slow":
        run_slow(a[2], a[3], a[4], a[5], int(a[6]), float(a[7]))
    else:
        sys.exit("usage: load.py load|slow ...")
