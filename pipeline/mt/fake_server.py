"""A local OpenAI-compatible chat-completions server for tests and the benchmark (loopback only).

Fault injection by markers in the text to translate: ``[429x2]`` (two 429s, then OK),
``[500x1]`` / ``[500always]``, ``[slow1]`` (first attempt slower than the client timeout),
``[badjson1]`` / ``[badjson]`` (malformed body), ``[400]`` (client error, not retried).
Translation = ``lookup[text]`` when given, else ``"DE:" + text``.
"""
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeMTServer:
    def __init__(self, lookup=None, slow_s=1.0, latency_s=0.0):
        self.lookup = lookup or {}
        self.slow_s, self.latency_s = slow_s, latency_s
        self.attempts = Counter()      # text -> requests received
        self.ok_sent = Counter()       # text -> successful responses written
        self.auth_headers = set()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                server._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handle(self, h):
        body = json.loads(h.rfile.read(int(h.headers["Content-Length"])))
        text = body["messages"][-1]["content"]
        with self._lock:
            self.attempts[text] += 1
            n = self.attempts[text]
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if h.headers.get("Authorization"):
                self.auth_headers.add(h.headers["Authorization"])
        try:
            if self.latency_s:
                time.sleep(self.latency_s)
            self._respond(h, text, n)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _respond(self, h, text, n):
        m = re.search(r"\[429x(\d)\]", text)
        if m and n <= int(m.group(1)):
            return self._send(h, 429, b'{"error": "rate limited"}', {"Retry-After": "0"})
        m = re.search(r"\[500x(\d)\]", text)
        if "[500always]" in text or (m and n <= int(m.group(1))):
            return self._send(h, 500, b'{"error": "boom"}')
        if "[400]" in text:
            return self._send(h, 400, b'{"error": "bad request"}')
        if "[badjson]" in text or ("[badjson1]" in text and n == 1):
            return self._send(h, 200, b'{"choices": [ {"message": ')
        if "[slow1]" in text and n == 1:
            time.sleep(self.slow_s)
        out = self.lookup.get(text, "DE:" + text)
        payload = {"id": f"cmpl-{n}", "object": "chat.completion",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": out}, "finish_reason": "stop"}]}
        self._send(h, 200, json.dumps(payload).encode())
        with self._lock:
            self.ok_sent[text] += 1

    @staticmethod
    def _send(h, code, payload, headers=None):
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(payload)
