"""Benchmark (run by hand, not in CI): collect 100 commits from FakeGitHub at 50 ms latency, sequential
(concurrency 1) versus concurrent (default 8), and print wall times and the ratio (target ≥ 5×).

    /work/venv/bin/python bench/collect.py [--commits 100] [--latency 0.05] [--concurrency 8]

Each run starts with an empty cache (an in-memory SQLite store), so every commit costs two requests (details
and pulls) plus the feed, the repository and the listing pages. PyGithub's own spacing
(seconds_between_requests, 0.25 s per client by default) is off in collect; its cost is printed for reference.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter.collect import CollectOptions, collect_repos
from newsletter.config import Settings
from newsletter.models import RepoSpec, Window
from newsletter.store.sqlite import SqliteStore
from tests.fakes.github import FakeGitHub, synthetic_day


def timed(case: Path, spec: str, window: Window, latency: float, concurrency: int) -> tuple[float, int, int]:
    with FakeGitHub(case, latency=latency) as fake, tempfile.TemporaryDirectory() as data:
        settings = Settings.from_env({**fake.env(), "NEWSLETTER_DATA_DIR": data})
        started = time.perf_counter()
        repos = collect_repos(
            [RepoSpec.parse(spec)],
            window,
            settings=settings,
            cache=SqliteStore(":memory:"),
            options=CollectOptions(concurrency=concurrency),
        )
        elapsed = time.perf_counter() - started
        return elapsed, len(repos[0].commits), len(fake.requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    day = date(2026, 5, 20)
    with tempfile.TemporaryDirectory() as folder:
        case = synthetic_day(Path(folder), repo="synth/big", day=day, tz="UTC", count=args.commits)
        window = Window.for_day(day, "UTC")
        print(f"{args.commits} commits, {args.latency * 1000:.0f} ms per request, empty cache each run")
        seq, n1, requests = timed(case, "synth/big", window, args.latency, 1)
        print(f"  concurrency 1: {seq:6.2f} s  ({n1} commits, {requests} HTTP requests)")
        con, n2, _ = timed(case, "synth/big", window, args.latency, args.concurrency)
        print(f"  concurrency {args.concurrency}: {con:6.2f} s  ({n2} commits)")
        print(f"  ratio: {seq / con:.1f}x faster (target >= 5x)")
        print(
            f"  for reference, PyGithub's default seconds_between_requests=0.25 alone would add "
            f">= {0.25 * (requests - 1):.0f} s to the sequential run"
        )


if __name__ == "__main__":
    main()
