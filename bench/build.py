"""Benchmark (run by hand, not in CI): `newsletter build` of a real 47-commit day, end to end, with the model
answering after 1 s, against the ideal schedule.

    .venv/bin/python bench/build.py [--latency 1.0] [--case ../shared/fixtures/github/specforge-2026-07-14]

The command runs as a user runs it (a fresh process: start, collect from the fake GitHub, analyse through
the fake OpenAI-compatible server, compose, write Markdown) with an empty data folder, so every commit is a
model request. The ideal schedule is what the model's latency alone costs at the analysis concurrency: the
analysis requests in waves of NEWSLETTER_ANALYSIS_CONCURRENCY, then the overview (target: wall time
<= 1.25 x ideal + 0.5 s).

    .venv/bin/python bench/build.py --analyzer heuristic [--case …]

times the key-less build of the same day instead (no model: the wall time is collect + facts + rules +
compose + render, which should stay a few seconds even for a large day).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.github import FakeGitHub
from tests.fakes.openai import FakeOpenAI, Request

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT.parent / "shared" / "fixtures" / "github" / "specforge-2026-07-14"
CONCURRENCY = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--case", type=Path, default=CASE)
    parser.add_argument("--analyzer", choices=["llm", "heuristic"], default="llm")
    parser.add_argument("--timeline", action="store_true", help="print the schedule the fake servers saw")
    args = parser.parse_args()
    if not (args.case / "case.json").exists():
        raise SystemExit(f"no GitHub case at {args.case} (pass --case DIR, e.g. ../shared/fixtures/github/…)")
    with (
        FakeGitHub(args.case) as github,
        FakeOpenAI(latency=args.latency) as model,
        tempfile.TemporaryDirectory() as data,
    ):
        env = {
            **os.environ,
            **github.env(),
            "OPENAI_API_KEY": "test-key",  # the key the fake accepts
            "OPENAI_BASE_URL": model.url,
            "NEWSLETTER_DATA_DIR": data,
            "NEWSLETTER_ANALYSIS_CONCURRENCY": str(CONCURRENCY),
        }
        command = ["build", "sgl-project/SpecForge", "--date", "2026-07-14", "--tz", "America/Los_Angeles"]
        command += ["--analyzer", args.analyzer, "--out", str(Path(data) / "issue.md")]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "newsletter", *command], cwd=ROOT, env=env, capture_output=True)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"build failed: {done.stderr.decode()[-500:]}")
        analyses = len(model.completions("analysis")) + len(model.completions("thread"))
        overviews = len(model.completions("overview"))
        if args.timeline:
            timeline(started, wall, [r.at for r in github.requests], model.requests)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if args.analyzer == "heuristic":
        print(f"newsletter build --analyzer heuristic, {args.case.name}: wall {wall:6.2f} s (cpu {cpu:.2f} s)")
        return
    ideal = (math.ceil(analyses / CONCURRENCY) + overviews) * args.latency
    target = 1.25 * ideal + 0.5
    print(
        f"newsletter build, {args.case.name}: {analyses} analysis + {overviews} overview requests at {args.latency} s"
    )
    print(f"  wall {wall:6.2f} s (cpu {cpu:.2f} s), ideal schedule {ideal:.1f} s at concurrency {CONCURRENCY}")
    print(f"  ratio {wall / ideal:.2f}x ideal; target <= {target:.2f} s: {'met' if wall <= target else 'NOT met'}")


def timeline(started: float, wall: float, github: list[float], requests: list[Request]) -> None:
    """What the fake servers saw, in seconds from the process's start: the collection, each model request's
    arrival and answer, how many were in flight, and what ran after the last answer."""
    first_get, last_get = github[0] - started, github[-1] - started
    print(f"  collect: {len(github)} GitHub requests, first at {first_get:.2f} s, last {last_get:.2f} s")
    events = sorted([(r.received, 1) for r in requests] + [(r.answered, -1) for r in requests])
    flying = 0
    for r in sorted(requests, key=lambda r: r.received):
        print(f"  {r.kind:9} {r.received - started:6.2f} → {r.answered - started:6.2f} s  {r.title or ''}"[:110])
    below, last = 0.0, None
    for at, step in events:
        if last is not None and flying < CONCURRENCY and at > last:
            below += at - last
        flying += step
        last = at
    first = min(r.received for r in requests) - started
    end = max(r.answered for r in requests) - started
    print(f"  first request at {first:.2f} s; last answer at {end:.2f} s; exit {wall - end:.2f} s after")
    print(f"  between first request and last answer, {below:.2f} s with fewer than {CONCURRENCY} in flight")
    step = 0.25
    counts = [sum(r.received <= started + t < r.answered for r in requests) for t in _ticks(wall, step)]
    print(f"  in flight every {step} s from the start: " + "".join(str(min(n, 9)) for n in counts))


def _ticks(wall: float, step: float) -> list[float]:
    return [i * step for i in range(int(wall / step) + 1)]


if __name__ == "__main__":
    main()
