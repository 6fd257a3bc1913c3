"""Benchmark (run by hand, not in CI): how long the entry points take to start, beside a bare interpreter.

    .venv/bin/python bench/startup.py [--runs 7]

Each figure is the median wall and CPU time of a fresh process, and its ratio to a bare interpreter (targets
on the 2-core development machine: `newsletter --help` <= 0.3 s, the Lambda handler module import <= 0.4 s).
The handler module imports each function's modules when that function is first called; the "… first call"
rows import what each function then loads (the rest of its cold start is the work itself). The commands run
in this checkout (the current folder is first on sys.path), so the same script measures any revision.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "newsletter --help": ["-m", "newsletter", "--help"],
    "newsletter --version": ["-m", "newsletter", "--version"],
    "import newsletter.aws.handlers": ["-c", "import newsletter.aws.handlers"],
    # What each Lambda function imports on its first call (see newsletter/aws/handlers.py).
    "  http, first call": ["-c", "import newsletter.aws.handlers, newsletter.aws.runtime, newsletter.aws.web"],
    "  send_batch, first call": ["-c", "import newsletter.aws.handlers, newsletter.aws.runtime, newsletter.fanout"],
    "  scheduled, first call": [
        "-c",
        "import newsletter.aws.handlers, newsletter.aws.runtime, newsletter.fanout, newsletter.schedule",
    ],
    "  ses_events, first call": [
        "-c",
        "import newsletter.aws.handlers, newsletter.aws.runtime, newsletter.deliver.events",
    ],
}
TARGETS = {"newsletter --help": 0.3, "import newsletter.aws.handlers": 0.4}


def timed(args: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + sys) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()[-300:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    for argv in COMMANDS.values():  # warm the page cache and the .pyc files
        timed(argv)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):  # interleaved, so a busy moment on the machine hits every command alike
        for name, argv in COMMANDS.items():
            samples[name].append(timed(argv))
    bare = statistics.median(wall for wall, _ in samples["python -c pass"])
    # On a busy machine the wall time waits for a core; the CPU time is what the start itself costs.
    print(f"median of {args.runs} fresh processes, {ROOT}")
    bare_cpu = statistics.median(cpu for _, cpu in samples["python -c pass"])
    print(f"  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(f"  {'':34} {'wall':>8}  {'ratio':>6}  {'cpu':>8}  {'ratio':>6}")
    for name, values in samples.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        target = f"   target <= {TARGETS[name]:.1f} s" if name in TARGETS else ""
        print(f"  {name:34} {wall:6.3f} s  {wall / bare:5.1f}x  {cpu:6.3f} s  {cpu / bare_cpu:5.1f}x{target}")


if __name__ == "__main__":
    main()
