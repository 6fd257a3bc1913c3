"""Sample data shipped inside the package, so that ``newsletter preview --sample`` works offline.

``sglang-2026-01-13.json`` is fourteen commits of one day of sgl-project/sglang (titles, authors, times and
SHAs of that day; the messages, file lists and patches are abridged stand-ins written for this sample), in
the shape collect returns: a JSON list of models.RepoCommits.
"""

from __future__ import annotations

import json
from datetime import date
from importlib import resources

from newsletter.models import RepoCommits

SAMPLE_FILE = "sglang-2026-01-13.json"


def sample_day() -> tuple[list[RepoCommits], date, str]:
    """The sample day: what collect would return, the day, and the timezone that defines it."""
    raw = resources.files("newsletter.samples").joinpath(SAMPLE_FILE).read_text("utf-8")
    repos = [RepoCommits.model_validate(item) for item in json.loads(raw)]
    window = repos[0].window
    return repos, window.local_date, window.timezone
