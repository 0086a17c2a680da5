#!/usr/bin/env python3
"""A differential proxy for .ci/fuzz-api: every request goes, in order, to HQ on SQLite and
then to HQ on PostgreSQL; the SQLite answer goes back to the fuzzer, and any disagreement
between the two (status code, or the error message of a refusal) is written to a log.

Both servers start from the same commands, so they hold the same stores, terminals and
counters, and one sequence of requests must take them through the same states. What each
generates at random (tokens, keys, the phone pepper) never reaches a status or an error
message, so only real divergence is reported. The terminal's token differs per server: the
proxy swaps the SQLite one for the PostgreSQL one.

Usage: differ.py PORT SQLITE_PORT SQLITE_TOKEN PG_PORT PG_TOKEN LOG
The proxy serves one request at a time, so both servers see the same order.
"""

import http.client
import http.server
import json
import socket
import sys

port, a_port, a_token, b_port, b_token, log_path = sys.argv[1:7]
compared = 0
HOP = {"host", "connection", "keep-alive", "transfer-encoding", "proxy-connection"}


def forward(target_port, method, path, headers, body, swap):
    """Sends the request as raw bytes (a fuzzer's odd header survives), answers
    (status, headers, body)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{target_port}", "Connection: close"]
    for name, value in headers:
        if name.lower() in HOP or name.lower() == "content-length":
            continue
        if swap and name.lower() == "authorization":
            value = value.replace(a_token, b_token)
        lines.append(f"{name}: {value}")
    if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
        lines.append(f"Content-Length: {len(body)}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    with socket.create_connection(("127.0.0.1", int(target_port)), timeout=60) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        data = response.read()
        return response.status, response.getheaders(), data


def refusal(status, body):
    """The error message HQ gives with a refusal, or None for an answer that is not one."""
    if status < 400:
        return None
    try:
        return json.loads(body).get("error")
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")


class Differ(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def handle_one(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = list(self.headers.raw_items())
        a = forward(a_port, self.command, self.path, headers, body, swap=False)
        b = forward(b_port, self.command, self.path, headers, body, swap=True)
        global compared
        compared += 1
        with open(log_path + ".count", "w", encoding="utf-8") as count:
            count.write(str(compared))
        a_said, b_said = (a[0], refusal(a[0], a[2])), (b[0], refusal(b[0], b[2]))
        if a_said != b_said:
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps({
                    "request": f"{self.command} {self.path}",
                    "body": body[:300].decode("utf-8", "replace"),
                    "sqlite": list(a_said),
                    "postgres": list(b_said),
                }, ensure_ascii=False) + "\n")
        status, answer_headers, data = a
        self.send_response_only(status)
        for name, value in answer_headers:
            if name.lower() not in HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def __getattr__(self, name):
        # Every method the fuzzer tries (GET, POST, PATCH, TRACE, …) goes through handle_one.
        if name.startswith("do_"):
            return self.handle_one
        raise AttributeError(name)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(port)), Differ).serve_forever()
