"""Load check of `newsletter serve` on loopback (by hand, not in CI): bounded in requests and in time.

    python bench/serve.py [--requests 2000] [--clients 8] [--seconds 60]

Starts `newsletter serve` as a subprocess on 127.0.0.1 (SQLite store, outbox, the sample issue archived), then
drives it from `--clients` threads over keep-alive connections, each scenario stopping after `--requests`
requests or `--seconds`, whichever comes first:

- the RFC 8058 one-click POST, every request for a different reader (each one a real unsubscribe: a write);
- GET of the archived issue page.

Prints requests per second, p50 and p99 latency, the time of the same answer computed in-process (the function
both the server and the Lambda handler call, one thread, no HTTP) and the ratio of the served p50 to it: what
the HTTP server, its threads and the queueing under load add. Client and server share the machine's cores, so
the absolute figures are a floor.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter.config import Settings
from newsletter.context import Context
from newsletter.store.base import MemberStatus
from newsletter.store.sqlite import SqliteStore
from newsletter.subscriptions import Tokens
from newsletter.web.http import HttpRequest
from tests.aws_stack import LIST_TOML
from tests.serve_support import Served, free_port

SECRET = "bench-secret-0123456789"
Make = Callable[[int], tuple[str, str, bytes, dict[str, str]]]  # i → method, target, body, headers


def drive(url: str, make: Make, *, requests: int, clients: int, seconds: float) -> tuple[list[float], float, int]:
    """Latencies (s) of the requests answered 200, the wall time, and the number of other answers."""
    split = urlsplit(url)
    counter = iter(range(requests))
    lock = threading.Lock()
    latencies: list[float] = []
    bad = 0
    deadline = time.monotonic() + seconds

    def client() -> None:
        nonlocal bad
        conn = http.client.HTTPConnection(split.hostname, split.port, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            method, target, body, headers = make(i)
            started = time.perf_counter()
            conn.request(method, target, body=body or None, headers=headers)
            answer = conn.getresponse()
            answer.read()
            took = time.perf_counter() - started
            with lock:
                if answer.status == 200:
                    latencies.append(took)
                else:
                    bad += 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started, bad


def in_process(ctx: Context, make: Make, first: int, count: int) -> float:
    """Seconds per request of the app's answer (``web.respond`` or the archive read) called directly, in one
    thread, after a warm-up: the work itself, without HTTP, threads or sockets."""
    from newsletter.serve.app import App

    app = App(ctx, ctx.archive.storage)

    def call(i: int) -> None:
        method, target, body, headers = make(i)
        path, _, query = target.partition("?")
        request = HttpRequest(method, path, query, {k.lower(): v for k, v in headers.items()}, body)
        assert app.answer(request).status == 200

    for i in range(first, first + 20):
        call(i)
    started = time.perf_counter()
    for i in range(first + 20, first + count):
        call(i)
    return (time.perf_counter() - started) / (count - 20)


def report(name: str, latencies: list[float], wall: float, bad: int, direct: float, clients: int) -> None:
    if not latencies:
        print(f"{name}: no request answered 200 ({bad} other answers)")
        return
    ordered = sorted(latencies)
    p50, p99 = statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{name}: {len(latencies):,} requests from {clients} clients in {wall:.1f}s = {len(latencies) / wall:,.0f}"
        f" req/s; p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms; {bad} non-200;"
        f" the work alone (in-process, one thread) {direct * 1000:.2f} ms = {1 / direct:,.0f} req/s;"
        f" served p50 / work alone = {p50 / direct:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lists = Path(tmp) / "subscribers"
        lists.mkdir()
        (lists / "widgets.toml").write_text(LIST_TOML, encoding="utf-8")
        port = free_port()
        env = {
            "NEWSLETTER_DATA_DIR": str(Path(tmp) / "data"),
            "NEWSLETTER_LISTS_DIR": str(lists),
            "NEWSLETTER_SECRET": SECRET,
            "NEWSLETTER_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
        os.environ.update(env)
        subprocess.run(
            [sys.executable, "-m", "newsletter", "run", "--sample"], env=os.environ, check=True, capture_output=True
        )
        readers = [f"reader{i:06d}@example.org" for i in range(2 * args.requests + 200)]
        store = SqliteStore(Path(env["NEWSLETTER_DATA_DIR"]) / "newsletter.db")
        store.add_members([(e, None) for e in readers], "widgets", status=MemberStatus.ACTIVE, source="bench")
        tokens = Tokens(SECRET)
        links = [f"/unsubscribe?token={tokens.make('unsubscribe', e, 'widgets')}" for e in readers]

        def one_click(i: int) -> tuple[str, str, bytes, dict[str, str]]:
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            return "POST", links[i], b"List-Unsubscribe=One-Click", form

        def page(i: int) -> tuple[str, str, bytes, dict[str, str]]:
            return "GET", "/sample/2026-01-13.html", b"", {}

        with Context.open(Settings.from_env()) as ctx:
            direct_click = in_process(ctx, one_click, args.requests, 200)
            direct_page = in_process(ctx, page, 0, 500)
        with Served(env, "--port", str(port)) as served:
            latencies, wall, bad = drive(
                served.url, one_click, requests=args.requests, clients=args.clients, seconds=args.seconds
            )
            report("one-click POST", latencies, wall, bad, direct_click, args.clients)
            latencies, wall, bad = drive(
                served.url, page, requests=args.requests, clients=args.clients, seconds=args.seconds
            )
            report("archive page GET", latencies, wall, bad, direct_page, args.clients)
        gone = sum(1 for e in readers[: args.requests] if store.get_member(e, "widgets").status != MemberStatus.ACTIVE)
        print(f"readers unsubscribed by the served one-click POSTs: {gone:,} of {args.requests:,}")


if __name__ == "__main__":
    main()
