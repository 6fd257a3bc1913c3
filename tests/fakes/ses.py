"""SES through moto's ThreadedMotoServer, and a small HTTP proxy in front of it that can answer SES's own
throttling error on every Nth SendEmail call or hold calls (to stop a sender mid-flight)."""

from __future__ import annotations

import http.client
import json
import logging
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

SEND_PATH = "/v2/email/outbound-emails"


def serve() -> None:
    """``python -m tests.fakes.ses``: a ThreadedMotoServer on 127.0.0.1, port 0; prints its URL and runs until
    stdin closes. In its own process, moto does not compete with the sender under test for one GIL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"http://{host}:{port}", flush=True)
    sys.stdin.read()
    server.stop()


@contextmanager
def moto_ses(sender: str = "digest@example.com") -> Iterator[str]:
    """A fresh moto server (own process) on loopback with ``sender`` verified; yields its URL."""
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.ses"], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), "moto server did not start"
        boto3.client("ses", region_name="us-east-1", endpoint_url=url).verify_email_identity(EmailAddress=sender)
        yield url
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


def raw_messages(url: str) -> list[dict[str, Any]]:
    """What moto's SES accepted: [{"destinations", "raw_data", "source", "id"}, …]."""
    with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=30) as answer:
        return json.load(answer)["ses"]["RawMessage"]


class SesProxy:
    """Forwards everything to ``upstream``. SendEmail calls are timed; every ``throttle_every``-th is answered
    with SES's 429 TooManyRequestsException instead; after ``hold_after`` forwarded sends, further sends are
    held (never forwarded) until ``close``; with ``answer_delay`` every SendEmail is forwarded (SES keeps it) and
    its answer held back that many seconds (a client that times out first has lost the reply)."""

    def __init__(
        self,
        upstream: str,
        *,
        throttle_every: int | None = None,
        hold_after: int | None = None,
        answer_delay: float = 0.0,
    ) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.throttle_every = throttle_every
        self.hold_after = hold_after
        self.answer_delay = answer_delay
        self.calls: list[float] = []  # monotonic time of every SendEmail call, throttled or not
        self.forwarded = 0
        self.throttled = 0
        self.held = 0
        self.lock = threading.Lock()
        self.closing = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                self._relay(b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith(SEND_PATH):
                    verdict = proxy._admit()
                    if verdict == "throttle":
                        self._answer(429, {"message": "Maximum sending rate exceeded."}, "TooManyRequestsException")
                        return
                    if verdict == "hold":
                        proxy.closing.wait()
                        self.close_connection = True
                        return
                    if proxy.answer_delay:
                        self._relay(body, delay=proxy.answer_delay)
                        return
                self._relay(body)

            def _answer(self, status: int, payload: dict[str, Any], error_type: str) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("x-amzn-ErrorType", error_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _relay(self, body: bytes, *, delay: float = 0.0) -> None:
                conn = http.client.HTTPConnection(proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in {"connection", "content-length"}}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                conn.close()
                if delay:
                    time.sleep(delay)
                    self.close_connection = True
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in {"content-length", "connection", "transfer-encoding", "server", "date"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _admit(self) -> str:
        with self.lock:
            self.calls.append(time.monotonic())
            if self.throttle_every and len(self.calls) % self.throttle_every == 0:
                self.throttled += 1
                return "throttle"
            if self.hold_after is not None and self.forwarded >= self.hold_after:
                self.held += 1
                return "hold"
            self.forwarded += 1
            return "forward"

    def max_in_window(self, seconds: float = 1.0) -> int:
        """The most SendEmail calls seen in any window of ``seconds``."""
        times = sorted(self.calls)
        best, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    def __enter__(self) -> SesProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    serve()
