"""A headless Chromium driven over the DevTools protocol (websocket-client), for the rendering tests.

Started once per test session with its own profile folder and every background service off, so it never
reaches the network; pages are loaded from file:// and contain no remote resources.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def chromium_path() -> str | None:
    return shutil.which("chromium")


class Browser:
    def __init__(self, executable: str, profile: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = self._wait_for_port(profile / "DevToolsActivePort")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            pages = [t for t in json.load(answer) if t["type"] == "page"]
        self._ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self._next = 0
        self.send("Page.enable")

    def _wait_for_port(self, marker: Path) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._proc.returncode}")
            if marker.exists() and (first := marker.read_text().split("\n")[0]).isdigit():
                return int(first)
            time.sleep(0.05)
        raise RuntimeError("chromium did not open its DevTools port within 30 s")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def _wait_event(self, method: str) -> None:
        while json.loads(self._ws.recv()).get("method") != method:
            pass

    def open(self, page: Path, *, width: int, dark: bool = False, height: int = 900) -> None:
        mobile = width < 600
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)
        scheme = "dark" if dark else "light"
        self.send("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": scheme}])
        self.send("Page.navigate", url=page.resolve().as_uri())
        self._wait_event("Page.loadEventFired")

    def goto(self, url: str, *, width: int = 800, height: int = 900) -> None:
        """Load an http(s) URL and wait for it."""
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        self.send("Page.navigate", url=url)
        self._wait_event("Page.loadEventFired")

    def click(self, selector: str) -> None:
        """Click the element as a person would (a real mouse event at its centre) and wait for the next page."""
        box = self.eval(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)
        self._wait_event("Page.loadEventFired")

    def type(self, selector: str, text: str) -> None:
        self.eval(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", text=text)

    def eval(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """The whole page (beyond the viewport) as PNG."""
        metrics = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": metrics["width"], "height": min(metrics["height"], 16000), "scale": 1}
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        try:
            self._ws.close()
        finally:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def needs_chromium() -> pytest.MarkDecorator:
    """Skip without Chromium on a developer's machine; in CI (CI=true), where .ci/run installs it, a missing
    browser is a failure rather than a silent skip."""
    missing = chromium_path() is None
    if missing and os.environ.get("CI"):
        raise RuntimeError("CI=true but chromium is not installed: .ci/run should have installed it")
    return pytest.mark.skipif(missing, reason="chromium is not installed (.ci/run installs it)")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """A fresh Chromium for one test (tests/conftest.py offers it to every test module)."""
    b = Browser(str(chromium_path()), tmp_path / "chromium-profile")
    try:
        yield b
    finally:
        b.close()


def endpoints_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, list_file: str, list_toml: str, secret: str
) -> Iterator[str]:
    """For a ``site`` fixture: the public endpoints (the ``http`` Lambda handler behind the local adapter) on a
    loopback port, with one list file, the secret, and links pointing at that port; yields its URL."""
    from newsletter.aws import handlers
    from newsletter.aws.local import serve

    lists = tmp_path / "subscribers"
    lists.mkdir()
    (lists / list_file).write_text(list_toml, encoding="utf-8")
    server = serve(handlers.http)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("NEWSLETTER_LISTS_DIR", str(lists))
    monkeypatch.setenv("NEWSLETTER_SECRET", secret)
    monkeypatch.setenv("NEWSLETTER_PUBLIC_URL", url)
    try:
        yield url
    finally:
        server.shutdown()
