#!/usr/bin/env python3
# hostile-registry.py - a malicious registry for t6200-berth-hostile-registry.
#
#   hostile-registry.py MODE REG_PORT OTHER_PORT RAW_PORT RECORD [TLS_PORT CERT KEY]
#
# Everything listens on 127.0.0.1 and stops by itself after 300 s.
#   REG_PORT    the registry berth is pointed at; its behaviour is MODE.
#   OTHER_PORT  "another host": takes uploads, serves blobs, and writes one
#               line per request to RECORD: "OTHER METHOD PATH AUTH" where
#               AUTH is the Authorization header, or "-".
#   RAW_PORT    a bare TCP listener: writes "RAW connect" to RECORD for every
#               connection (gopher://, dict://... must never reach it).
#   TLS_PORT    an https token realm that redirects to http://OTHER_PORT/token.
# Modes:
#   push-basic, push-bearer  an upload's Location names OTHER_PORT
#   pull-redirect            blob GETs are redirected to OTHER_PORT
#   oversize                 a 150-byte layer is served as 200 MB of zeros
#   stall                    a blob sends 100 bytes, then nothing for 120 s
#   trickle                  a blob sends 10 bytes every 0.3 s
#   realm:URL                the Bearer realm is URL (gopher://, dict://, https://...)
# Credentials: alice / pw (Basic), token "tok" (Bearer).
import base64
import hashlib
import http.server
import json
import os
import socket
import ssl
import sys
import threading
import time

MODE, REG, OTHER, RAW, RECORD = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
TLS = sys.argv[6:9] if len(sys.argv) >= 9 else None
BASIC = "Basic " + base64.b64encode(b"alice:pw").decode()
lock = threading.Lock()


def record(line):
    with lock, open(RECORD, "a") as f:
        f.write(line + "\n")


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


CONFIG = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": []}}).encode()
LAYER = bytes(range(150))
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": sha(CONFIG), "size": len(CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": sha(LAYER), "size": len(LAYER)}]}).encode()
BLOBS = {sha(CONFIG): CONFIG, sha(LAYER): LAYER}


class Base(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def drain(self):
        n = int(self.headers.get("Content-Length") or 0)
        while n > 0:
            n -= len(self.rfile.read(min(n, 65536)) or b"x" * n)


class Other(Base):
    def handle_any(self):
        record("OTHER %s %s %s" % (self.command, self.path.split("?")[0],
                                   self.headers.get("Authorization") or "-"))
        self.drain()
        if self.path.startswith("/blob/"):
            d = self.path[len("/blob/"):]
            return self.send(200, BLOBS.get(d, b""))
        if self.path.startswith("/token"):
            return self.send(200, b'{"token":"tok"}', [("Content-Type", "application/json")])
        if self.command == "PUT":
            return self.send(201, b"", [("Location", "/v2/x/blobs/done")])
        return self.send(202, b"", [("Location", "http://127.0.0.1:%d/upload/2" % OTHER),
                                    ("Range", "0-0")])

    do_GET = do_HEAD = do_PUT = do_PATCH = do_POST = handle_any


class Registry(Base):
    def authorized(self):
        a = self.headers.get("Authorization") or ""
        if MODE == "push-bearer":
            if a == "Bearer tok":
                return True
            realm = "http://127.0.0.1:%d/token" % REG
        elif MODE.startswith("realm:"):
            realm = MODE[len("realm:"):]
        else:
            if a == BASIC:
                return True
            self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"auth"}]}',
                      [("WWW-Authenticate", 'Basic realm="hostile"')])
            return False
        self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"auth"}]}',
                  [("WWW-Authenticate", 'Bearer realm="%s",service="hostile"' % realm)])
        return False

    def handle_any(self):
        self.drain()
        p = self.path.split("?")[0]
        if p == "/token":
            if self.headers.get("Authorization") != BASIC:
                return self.send(401)
            return self.send(200, b'{"token":"tok"}', [("Content-Type", "application/json")])
        if not self.authorized():
            return
        if p == "/v2/":
            return self.send(200, b"{}")
        if "/manifests/" in p:
            if self.command == "PUT":
                return self.send(201, b"", [("Docker-Content-Digest", "sha256:" + "0" * 64)])
            return self.send(200, MANIFEST, [("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                                             ("Docker-Content-Digest", sha(MANIFEST))])
        if p.endswith("/blobs/uploads/") and self.command == "POST":
            return self.send(202, b"", [("Location", "http://127.0.0.1:%d/upload/1?state=x" % OTHER),
                                        ("Range", "0-0")])
        if "/blobs/" in p:
            d = p.rsplit("/", 1)[1]
            if self.command == "HEAD" and MODE.startswith("push"):
                return self.send(404)
            if d == sha(CONFIG) or MODE == "pull-redirect":
                if MODE == "pull-redirect":
                    return self.send(307, b"", [("Location", "http://127.0.0.1:%d/blob/%s" % (OTHER, d))])
                return self.send(200, BLOBS.get(d, b""))
            return self.blob_attack(d)
        return self.send(404)

    def blob_attack(self, d):
        if MODE == "oversize":
            self.send_response(200)
            self.send_header("Content-Length", str(200 << 20))
            self.end_headers()
            chunk = bytes(1 << 16)
            try:
                for _ in range((200 << 20) // len(chunk)):
                    self.wfile.write(chunk)
            except OSError:
                pass
            return
        if MODE in ("stall", "trickle"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(LAYER) * 1000))
            self.end_headers()
            try:
                if MODE == "stall":
                    self.wfile.write(b"x" * 100)
                    self.wfile.flush()
                    time.sleep(120)
                else:
                    for _ in range(100):
                        self.wfile.write(b"y" * 10)
                        self.wfile.flush()
                        time.sleep(0.3)
            except OSError:
                pass
            self.close_connection = True
            return
        return self.send(200, BLOBS.get(d, b""))

    do_GET = do_HEAD = do_PUT = do_PATCH = do_POST = handle_any


class TlsRealm(Base):
    def do_GET(self):
        record("TLS %s %s" % (self.command, self.path.split("?")[0]))
        self.send(302, b"", [("Location", "http://127.0.0.1:%d/token" % OTHER)])


def serve(handler, port, tls=None):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    srv.daemon_threads = True
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls[1], tls[2])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()


def raw_listener():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", RAW))
    s.listen(16)
    while True:
        c, _ = s.accept()
        record("RAW connect")
        c.close()


serve(Other, OTHER)
if TLS:
    serve(TlsRealm, int(TLS[0]), TLS)
threading.Thread(target=raw_listener, daemon=True).start()
serve(Registry, REG)
time.sleep(300)
