"""`newsletter serve` as a real subprocess on loopback, for the serve tests, the browser test and the bench."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message

_LISTENING = re.compile(r"listening on (http://\S+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """``with Served(env, "--port", "0") as s: s.url`` — started, waited for, and stopped with SIGTERM."""

    def __init__(self, env: dict[str, str], *args: str, timeout: float = 60.0) -> None:
        self.lines: list[str] = []
        self.returncode: int | None = None
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "serve", *args],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = ""
        deadline = time.monotonic() + timeout
        while not self.url:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._reader.join(5)
                self.stop()
                raise RuntimeError("newsletter serve did not start:\n" + self.output)
            for line in list(self.lines):
                if match := _LISTENING.search(line):
                    self.url = match.group(1)
            time.sleep(0.05)

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def stop(self, timeout: float = 90.0) -> int:
        """SIGTERM, then wait for the exit; the exit code."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
        try:
            self.returncode = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self.returncode = self._proc.wait()
        self._reader.join(5)
        return self.returncode

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def request(
    url: str, *, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> Answer:
    """One HTTP request that does not follow redirects and does not raise on 4xx/5xx."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(_NoRedirect)
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=30) as answer:
            return Answer(answer.status, answer.headers, answer.read())
    except urllib.error.HTTPError as err:
        return Answer(err.code, err.headers, err.read())


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)
