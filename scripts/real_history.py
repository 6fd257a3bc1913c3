"""Write tests/data/days/specforge-history.json.gz: one real repository's history, for busy-day tests.

Run by hand (it reads the shared fixtures, which tests never do):

    python scripts/real_history.py /work/shared/fixtures/github tests/data/days/specforge-history.json.gz

It collects every commit the three sgl-project/SpecForge fixture days hold (152 distinct commits of its main
branch, 2026-07-13 to 2026-08-05) through tests/fakes/github.py and the real ``newsletter collect``, and
writes them newest first as one ``RepoCommits`` in collect's JSON. Titles, messages, authors, file lists,
sizes, pull requests and parents are the real ones; only the first files of a commit keep the start of their
patch, so the file stays small. The fake's loopback URLs are written back to https://github.com.
tests/day.py ``real_history_day`` lays these commits out on one busy day.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.github import FakeGitHub  # noqa: E402

REPO = "sgl-project/SpecForge"
CASES = ("specforge-2026-07-14", "specforge-2026-07-21", "specforge-2026-08-03")
PATCH_CHARS = 600
PATCHED_FILES = 6


def collect(fixtures: Path, work: Path) -> list[dict]:
    """Every commit of the three cases, as ``newsletter collect --json`` writes them, newest first."""
    seen: dict[str, dict] = {}
    for case in CASES:
        out = work / f"{case}.json"
        with FakeGitHub(fixtures / case) as gh:
            env = {**os.environ, **gh.env(), "NEWSLETTER_DATA_DIR": str(work / case), "GITHUB_TOKEN": ""}
            command = [sys.executable, "-m", "newsletter", "collect", REPO, "--tz", "UTC"]
            command += ["--since", "2026-07-01T00:00", "--until", "2026-08-10T00:00", "--json", str(out)]
            subprocess.run(command, env=env, check=True, capture_output=True)
            text = out.read_text("utf-8").replace(gh.web_url, "https://github.com")
        for commit in json.loads(text)[0]["commits"]:
            seen[commit["sha"]] = commit
    return sorted(seen.values(), key=lambda c: c["committed_at"], reverse=True)


def trimmed(commit: dict) -> dict:
    for n, f in enumerate(commit["files"]):
        f["patch"] = f["patch"][:PATCH_CHARS] if f.get("patch") and n < PATCHED_FILES else None
    return commit


def main() -> None:
    fixtures, target = Path(sys.argv[1]), Path(sys.argv[2])
    with tempfile.TemporaryDirectory() as work:
        real = collect(fixtures, Path(work))
    commits = [trimmed(c) for c in real]
    window = {"start": "2026-07-13T00:00:00Z", "end": "2026-08-06T00:00:00Z", "timezone": "UTC"}
    repo = {"repo": REPO, "branch": "main", "window": window, "commits": commits, "degraded": False, "warnings": []}
    # mtime=0: the same commits make the same bytes
    with gzip.GzipFile(target, "wb", mtime=0) as fh:
        fh.write(json.dumps([repo], ensure_ascii=False, separators=(",", ":")).encode())
    print(f"{target}: {len(commits)} commits of {REPO}, {target.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
