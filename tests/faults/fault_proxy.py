#!/usr/bin/env python3
# A fault-injecting HTTP/1.1 reverse proxy for the fault tests: put in front of Ceph RGW or of
# etcd's gRPC gateway, it forwards requests (Host header unchanged, so SigV4 stays valid) and,
# per request, answers errors, resets, stalls, cuts, truncates or corrupts as its rules say.
"""Fault-injecting HTTP/1.1 reverse proxy (python3 standard library only).

    fault_proxy.py --upstream HOST:PORT [--listen 127.0.0.1:0] [--port-file F]
                   [--rules FILE] [--stats FILE] [--log FILE] [--kind s3|etcd]

Every connection carries one request: the proxy sends `Connection: close` both ways, so
clients reconnect for the next one (their keep-alive is not what is under test). Bodies are
streamed in 64 KiB pieces, never held whole. HTTP/2 (a gRPC client) is refused with a reset.

Rules are a JSON list (or {"rules": [...]}), taken from --rules (re-read when the file
changes) or set with `POST /__faults` on the proxy's own port; `GET /__faults` returns the
statistics, `DELETE /__faults` clears the rules. The first rule that matches a request and
is due acts on it. A rule:

  name      label in the statistics (default "rule<N>")
  method    regex, full match on the method (default any)
  path      regex, searched in the path (before '?'); query: regex searched in the query
  skip      act only after this many matches; nth: act only on these matches (int or list,
            1-based); times: act at most this often (default: every due match)
  action    status | reset | stall | cut | truncate | corrupt | delay | throttle | age | count
  at        "request" (default: upstream is never asked) or "response" (the request is
            forwarded and upstream has acted on it; the fault replaces or spoils its answer)
  after_bytes  body bytes passed before the fault (request body for at=request, response
            payload for at=response; -1 with at=response: not even the headers)
  status, code, message, body   status answers (default 503): code is the S3 error code
            (InternalError, ServiceUnavailable, SlowDown...), message the S3 Message or
            etcd's error text; body replaces the whole body
  seconds   stall / delay length (a stall also ends when the client goes away; the
            statistics' "stalling" shows the requests held); age: how much older
  then      after a stall: "close" (default), "reset" or "forward" (delay, then forward)
  rate      throttle: bytes per second of request and response bodies

Actions: status answers an error (the request body is read first, as a server would);
reset closes with RST (SO_LINGER 0); stall waits `seconds`; cut closes cleanly mid-body;
truncate ends a chunked response cleanly (terminating chunk) after after_bytes of payload;
corrupt flips the payload byte at after_bytes; delay waits then forwards; throttle forwards
slowly; age makes uploads and objects in listings look `seconds` older (their
<Initiated> and <LastModified>), for sweeps with a grace period; count only counts.

--stats holds, after every request, the requests seen, the faults injected by action and by
rule name (over every rule set) and the current rules' match counts; --log one line per
request with its outcome and the fault applied.
"""

import argparse
import datetime
import json
import os
import re
import select
import socket
import socketserver
import struct
import sys
import threading
import time

PIECE = 64 * 1024
REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           408: "Request Timeout", 429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
S3_MESSAGES = {"InternalError": "We encountered an internal error. Please try again.",
               "ServiceUnavailable": "Please reduce your request rate.",
               "SlowDown": "Please reduce your request rate.",
               "RequestTimeout": "Your socket connection to the server was not read from or "
                                 "written to within the timeout period."}
ACTIONS = {"status", "reset", "stall", "cut", "truncate", "corrupt", "delay", "throttle",
           "age", "count"}


class Gone(Exception):
    """The client or upstream closed or reset its side."""


class Rules:
    """The rule set, its match counters and the statistics, shared by all handler threads."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.rules = []
        self.file_key = None
        self.requests = 0
        self.injected = {}       # action -> count, over every rule set
        self.injected_by = {}    # rule name -> count, over every rule set
        self.stalling = {}       # rule name -> requests it holds right now
        self.next_id = 0
        if args.rules:
            self.reload_file()

    def set(self, rules):
        if isinstance(rules, dict):
            rules = rules.get("rules", [])
        if not isinstance(rules, list):
            raise ValueError("rules must be a JSON list")
        checked = []
        for i, rule in enumerate(rules):
            if not isinstance(rule, dict):
                raise ValueError("rule %d is not an object" % i)
            rule = dict(rule)
            action = rule.get("action", "count")
            if action not in ACTIONS:
                raise ValueError("rule %d: unknown action %r" % (i, action))
            rule["action"] = action
            rule.setdefault("name", "rule%d" % i)
            rule["_method"] = re.compile(rule.get("method", ".*"))
            rule["_path"] = re.compile(rule.get("path", ""))
            rule["_query"] = re.compile(rule.get("query", ""))
            nth = rule.get("nth")
            rule["_nth"] = None if nth is None else set(nth if isinstance(nth, list) else [nth])
            rule["matched"] = 0
            rule["applied"] = 0
            checked.append(rule)
        with self.lock:
            self.rules = checked
        self.write_stats()

    def reload_file(self):
        try:
            st = os.stat(self.args.rules)
        except FileNotFoundError:
            return
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key == self.file_key:
            return
        self.file_key = key
        with open(self.args.rules, encoding="utf-8") as f:
            text = f.read()
        self.set(json.loads(text) if text.strip() else [])

    def pick(self, method, path, query):
        """Counts the request against every matching rule; returns the first due one."""
        if self.args.rules:
            try:
                self.reload_file()
            except (OSError, ValueError) as e:
                log("cannot load rules from %s: %s" % (self.args.rules, e))
        with self.lock:
            self.requests += 1
            self.next_id += 1
            request_id = self.next_id
            chosen = None
            for rule in self.rules:
                if not (rule["_method"].fullmatch(method) and rule["_path"].search(path)
                        and rule["_query"].search(query)):
                    continue
                rule["matched"] += 1
                k = rule["matched"]
                due = k > rule.get("skip", 0)
                due = due and (rule["_nth"] is None or k in rule["_nth"])
                due = due and ("times" not in rule or rule["applied"] < rule["times"])
                if due and chosen is None:
                    rule["applied"] += 1
                    chosen = dict(rule)
                    action = rule["action"]
                    if action != "count":
                        self.injected[action] = self.injected.get(action, 0) + 1
                        self.injected_by[rule["name"]] = self.injected_by.get(rule["name"], 0) + 1
        return request_id, chosen

    def stats(self):
        with self.lock:
            return {
                "requests": self.requests,
                "faults_injected": sum(self.injected.values()),
                "by_action": dict(self.injected),
                "by_rule": dict(self.injected_by),
                "stalling": {k: v for k, v in self.stalling.items() if v},
                "rules": [{"name": r["name"], "action": r["action"], "matched": r["matched"],
                           "applied": r["applied"]} for r in self.rules],
            }

    def hold(self, name, delta):
        with self.lock:
            self.stalling[name] = self.stalling.get(name, 0) + delta

    def write_stats(self):
        if not self.args.stats:
            return
        text = json.dumps(self.stats(), indent=1, sort_keys=True)
        tmp = "%s.%d.tmp" % (self.args.stats, threading.get_ident())
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        os.replace(tmp, self.args.stats)


LOG_LOCK = threading.Lock()
LOG_FILE = None


def log(line):
    stamp = datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]
    with LOG_LOCK:
        out = LOG_FILE or sys.stderr
        out.write("%s %s\n" % (stamp, line))
        out.flush()


def read_head(rfile):
    """Reads a request or status line and its headers; returns (line, [(name, value)])."""
    line = rfile.readline(65537)
    if not line:
        raise Gone("closed before a message")
    if not line.endswith(b"\n"):
        raise Gone("message line too long or cut")
    headers = []
    while True:
        h = rfile.readline(65537)
        if not h:
            raise Gone("closed inside the headers")
        if h in (b"\r\n", b"\n"):
            break
        name, _, value = h.partition(b":")
        headers.append((name.strip().decode("latin-1"), value.strip().decode("latin-1")))
    return line.rstrip(b"\r\n").decode("latin-1"), headers


def header(headers, name):
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


def head_bytes(first_line, headers):
    out = [first_line]
    for n, v in headers:
        if n.lower() in ("connection", "keep-alive", "proxy-connection"):
            continue
        out.append("%s: %s" % (n, v))
    out.append("Connection: close")
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")


def body_pieces(rfile, headers, has_body):
    """Yields (prefix, payload, suffix) pieces of a body: prefix and suffix are chunk framing."""
    if not has_body:
        return
    te = (header(headers, "transfer-encoding") or "").lower()
    if "chunked" in te:
        while True:
            size_line = rfile.readline(1024)
            if not size_line:
                raise Gone("closed inside a chunked body")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                yield b"0\r\n\r\n", b"", b""
                return
            left = size
            first = True
            while left > 0:
                data = rfile.read(min(left, PIECE))
                if not data:
                    raise Gone("closed inside a chunk")
                left -= len(data)
                yield (b"%x\r\n" % size if first else b""), data, (b"\r\n" if left == 0 else b"")
                first = False
            rfile.readline(16)  # the CRLF after the chunk
        return
    length = header(headers, "content-length")
    if length is not None:
        left = int(length)
        while left > 0:
            data = rfile.read(min(left, PIECE))
            if not data:
                raise Gone("closed inside a body")
            left -= len(data)
            yield b"", data, b""
        return
    while True:  # a response delimited by the connection's end
        data = rfile.read1(PIECE) if hasattr(rfile, "read1") else rfile.read(PIECE)
        if not data:
            return
        yield b"", data, b""


def send(sock, data):
    try:
        sock.sendall(data)
    except OSError as e:
        raise Gone("send failed: %s" % e) from e


def reset(sock):
    """Closes with RST instead of FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def wait_or_gone(sock, seconds):
    """Waits `seconds`, reading and dropping what the client sends; False if it went away."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        readable, _, _ = select.select([sock], [], [], min(left, 0.5))
        if readable:
            try:
                if not sock.recv(PIECE):
                    return False
            except OSError:
                return False


class Throttle:
    def __init__(self, rate):
        self.rate = rate
        self.start = time.monotonic()
        self.sent = 0

    def account(self, n):
        if not self.rate:
            return
        self.sent += n
        ahead = self.sent / self.rate - (time.monotonic() - self.start)
        if ahead > 0:
            time.sleep(ahead)


def error_response(kind, rule, method, request_id):
    status = int(rule.get("status", 503))
    code = rule.get("code") or {500: "InternalError", 503: "ServiceUnavailable"}.get(
        status, "InternalError")
    if "body" in rule:
        body = rule["body"].encode()
        ctype = rule.get("content_type", "application/octet-stream")
    elif kind == "etcd":
        message = rule.get("message", "fault proxy: injected %d" % status)
        body = json.dumps({"error": message, "code": 14, "message": message}).encode()
        ctype = "application/json"
    else:
        message = rule.get("message", S3_MESSAGES.get(code, "injected fault"))
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                "<Message>%s</Message><RequestId>fault-%d</RequestId></Error>"
                % (code, message, request_id)).encode()
        ctype = "application/xml"
    headers = [("Content-Type", ctype), ("Content-Length", str(len(body))),
               ("x-amz-request-id", "fault-%d" % request_id)]
    if status == 503 and code == "SlowDown":
        headers.append(("Retry-After", "1"))
    line = "HTTP/1.1 %d %s" % (status, REASONS.get(status, "Error"))
    return head_bytes(line, headers) + (b"" if method == "HEAD" else body)


def age_listing(body, seconds):
    """Makes every <Initiated> and <LastModified> time of a listing `seconds` older."""
    fmt = "%Y-%m-%dT%H:%M:%S"

    def older(m):
        stamp = datetime.datetime.strptime(m.group(2).decode(), fmt)
        stamp -= datetime.timedelta(seconds=seconds)
        return m.group(1) + stamp.strftime(fmt).encode() + (m.group(3) or b"") + b"Z"
    pattern = rb"(<(?:Initiated|LastModified)>)(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z"
    return re.sub(pattern, older, body)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        rfile = sock.makefile("rb", buffering=PIECE)
        upstream = None
        urfile = None
        summary = {"fault": "-", "status": "-", "in": 0, "out": 0}
        method = target = None
        try:
            line, headers = read_head(rfile)
            if line.startswith("PRI * HTTP/2"):
                # An HTTP/2 client (gRPC): refused at once as by any HTTP/1.1-only server, so
                # clients that can fall back to HTTP/1.1 (etcd's gateway) do so quickly.
                rfile.close()
                reset(sock)
                return
            parts = line.split(" ")
            if len(parts) != 3:
                raise Gone("bad request line %r" % line)
            method, target, _ = parts
            path, _, query = target.partition("?")
            if path.startswith("/__faults"):
                self.control(sock, rfile, method, headers)
                return
            rules = self.server.rules
            request_id, rule = rules.pick(method, path, query)
            action = rule["action"] if rule else None
            at = rule.get("at", "request") if rule else "request"
            after = int(rule.get("after_bytes", 0)) if rule else 0
            if rule and action != "count":
                summary["fault"] = "%s:%s@%s+%d" % (rule["name"], action, at, after)
            has_body = (header(headers, "content-length") not in (None, "0")
                        or "chunked" in (header(headers, "transfer-encoding") or "").lower())
            throttle = Throttle(rule.get("rate") if rule and action == "throttle" else 0)

            if action == "delay" or (action == "stall" and rule.get("then") == "forward"):
                time.sleep(float(rule.get("seconds", 1)))  # the body waits, unread, in the socket
            elif action == "stall" and at == "request":
                if not self.stall(sock, rule):
                    summary["status"] = "client-gone"
                    return
                summary["status"] = "stalled"
                if rule.get("then") == "reset":
                    rfile.close()
                    reset(sock)
                return

            if at == "request" and action in ("status", "reset", "cut"):
                for _, payload, _ in body_pieces(rfile, headers, has_body):
                    summary["in"] += len(payload)
                    if action != "status" and summary["in"] >= after:
                        break
                if action == "status":
                    send(sock, error_response(self.server.kind, rule, method, request_id))
                    summary["status"] = rule.get("status", 503)
                    return
                summary["status"] = action
                rfile.close()
                if action == "reset":
                    reset(sock)
                return

            # Forward the request.
            upstream = socket.create_connection(self.server.upstream, timeout=300)
            urfile = upstream.makefile("rb", buffering=PIECE)
            send(upstream, head_bytes(line, headers))
            damage = at == "request" and action == "corrupt"
            for prefix, payload, suffix in body_pieces(rfile, headers, has_body):
                if damage and summary["in"] <= after < summary["in"] + len(payload):
                    i = after - summary["in"]
                    payload = payload[:i] + bytes([payload[i] ^ 0x01]) + payload[i + 1:]
                    summary["fault"] += " (flipped)"
                send(upstream, prefix + payload + suffix)
                summary["in"] += len(payload)
                throttle.account(len(payload))

            # The answer, after any 1xx interim ones.
            while True:
                status_line, rheaders = read_head(urfile)
                status = int(status_line.split(" ")[1])
                if status >= 200 or status == 101:
                    break
                send(sock, head_bytes(status_line, rheaders))
            summary["status"] = status
            body_allowed = method != "HEAD" and status not in (204, 304)
            pieces = body_pieces(urfile, rheaders, body_allowed)

            if at == "response" and action == "status":
                for _ in pieces:
                    pass
                send(sock, error_response(self.server.kind, rule, method, request_id))
                summary["status"] = "%s (upstream %d)" % (rule.get("status", 503), status)
                return
            if at == "response" and after < 0 and action in ("reset", "stall", "cut"):
                self.finish_fault(sock, rfile, rule, summary)
                return
            if action == "age":
                body = b"".join(p for _, p, _ in pieces)
                body = age_listing(body, float(rule.get("seconds", 3600)))
                rheaders = [(n, v) for n, v in rheaders
                            if n.lower() not in ("content-length", "transfer-encoding")]
                rheaders.append(("Content-Length", str(len(body))))
                send(sock, head_bytes(status_line, rheaders) + body)
                summary["out"] = len(body)
                return

            chunked = "chunked" in (header(rheaders, "transfer-encoding") or "").lower()
            send(sock, head_bytes(status_line, rheaders))
            spoil = at == "response" and action in ("reset", "stall", "cut", "truncate", "corrupt")
            for prefix, payload, suffix in pieces:
                if spoil and action == "truncate" and chunked:
                    left = after - summary["out"]
                    if len(payload) >= left:
                        piece = payload[:left]
                        if piece:
                            send(sock, b"%x\r\n" % len(piece) + piece + b"\r\n")
                        summary["out"] += len(piece)
                        send(sock, b"0\r\n\r\n")
                        summary["status"] = "%d truncated" % status
                        return
                if (spoil and action == "corrupt"
                        and summary["out"] <= after < summary["out"] + len(payload)):
                    i = after - summary["out"]
                    payload = payload[:i] + bytes([payload[i] ^ 0x01]) + payload[i + 1:]
                    summary["status"] = "%d corrupted" % status
                if spoil and action in ("reset", "stall", "cut") and \
                        summary["out"] + len(payload) >= after:
                    n = after - summary["out"]
                    if n > 0:
                        send(sock, prefix + payload[:n])  # cut inside the chunk's data
                    summary["out"] += max(n, 0)
                    self.finish_fault(sock, rfile, rule, summary)
                    return
                send(sock, prefix + payload + suffix)
                summary["out"] += len(payload)
                throttle.account(len(payload))
        except Gone as e:
            summary["status"] = "gone (%s)" % e
        except (OSError, ValueError) as e:
            summary["status"] = "error (%s)" % e
        finally:
            if target is not None and not target.startswith("/__faults"):
                log("%s %s -> %s in=%d out=%d fault=%s" % (
                    method, target, summary["status"], summary["in"], summary["out"],
                    summary["fault"]))
                self.server.rules.write_stats()
            for f in (urfile, upstream, rfile):
                try:
                    if f is not None:
                        f.close()
                except OSError:
                    pass

    def finish_fault(self, sock, rfile, rule, summary):
        action = rule["action"]
        if action == "stall":
            gone = not self.stall(sock, rule)
            summary["status"] = "stalled" + (" (client gone)" if gone else "")
            if rule.get("then") == "reset":
                rfile.close()
                reset(sock)
            return
        summary["status"] = action
        if action == "reset":
            rfile.close()
            reset(sock)

    def stall(self, sock, rule):
        """Holds the request (visible in the statistics); False if the client went away."""
        rules = self.server.rules
        rules.hold(rule["name"], 1)
        try:
            return wait_or_gone(sock, float(rule.get("seconds", 60)))
        finally:
            rules.hold(rule["name"], -1)

    def control(self, sock, rfile, method, headers):
        length = int(header(headers, "content-length") or 0)
        body = rfile.read(length) if length else b""
        status, answer = 200, None
        try:
            if method in ("POST", "PUT"):
                self.server.rules.set(json.loads(body.decode() or "[]"))
            elif method == "DELETE":
                self.server.rules.set([])
            answer = self.server.rules.stats()
        except ValueError as e:
            status, answer = 400, {"error": str(e)}
        data = json.dumps(answer).encode()
        send(sock, head_bytes("HTTP/1.1 %d %s" % (status, REASONS[status]),
                              [("Content-Type", "application/json"),
                               ("Content-Length", str(len(data)))]) + data)


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128


def host_port(text):
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main():
    global LOG_FILE
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True, help="HOST:PORT to forward to")
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: any free one)")
    p.add_argument("--port-file", help="write the port listened on here")
    p.add_argument("--rules", help="JSON rules file, re-read when it changes")
    p.add_argument("--stats", help="JSON file of requests and faults injected, kept current")
    p.add_argument("--log", help="append one line per request here (default stderr)")
    p.add_argument("--kind", choices=["s3", "etcd"], default="s3", help="error body style")
    args = p.parse_args()
    if args.log:
        LOG_FILE = open(args.log, "a", encoding="utf-8")
    server = Server(host_port(args.listen), Handler)
    server.upstream = host_port(args.upstream)
    server.kind = args.kind
    server.rules = Rules(args)
    server.rules.write_stats()
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w", encoding="utf-8") as f:
            f.write("%d\n" % port)
        os.replace(args.port_file + ".tmp", args.port_file)
    log("listening on %s:%d, forwarding to %s:%d" % (server.server_address + server.upstream))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
