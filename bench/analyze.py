"""Analysis stage wall time for 40 commits against FakeOpenAI with 1 s latency per request: concurrency 1
versus 8 (NEWSLETTER_ANALYSIS_CONCURRENCY). Run by hand from the repository root:

    /work/venv/bin/python bench/analyze.py [--latency 1.0] [--commits 40] [--concurrency 8]

Expect a ratio of at least 6x: requests are independent, so the pool hides the latency.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter.analyze import Job
from newsletter.backends import make_analyzer
from newsletter.config import Settings
from newsletter.store.sqlite import SqliteStore
from tests.day import day_of_commits
from tests.fakes.openai import FakeOpenAI


def run(fake: FakeOpenAI, commits: int, concurrency: int, folder: Path) -> float:
    settings = Settings.from_env(
        {
            "NEWSLETTER_DATA_DIR": str(folder),
            "OPENAI_API_KEY": "test-key",
            "OPENAI_BASE_URL": fake.url,
            "NEWSLETTER_ANALYSIS_CONCURRENCY": str(concurrency),
            "NEWSLETTER_TRIAGE": "0",  # every commit goes to the model
        }
    )
    store = SqliteStore(folder / f"bench-{concurrency}.db")  # a fresh cache: every commit is a request
    analyzer = make_analyzer(settings, "llm", cache=store)
    jobs = [Job("sgl-project/sglang", c) for c in day_of_commits(commits).commits]
    started = time.perf_counter()
    analyses = analyzer.analyze(jobs, language="en")
    elapsed = time.perf_counter() - started
    assert len(analyses) == commits and all(a.analyzer == "llm" for a in analyses)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--commits", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(latency=args.latency) as fake:
        serial = run(fake, args.commits, 1, Path(tmp))
        parallel = run(fake, args.commits, args.concurrency, Path(tmp))
        print(f"{args.commits} commits, {args.latency:.1f} s server latency")
        print(f"  concurrency 1:  {serial:6.2f} s")
        print(f"  concurrency {args.concurrency}:  {parallel:6.2f} s  (peak in flight: {fake.max_in_flight})")
        print(f"  speed-up:       {serial / parallel:6.2f}x")


if __name__ == "__main__":
    main()
