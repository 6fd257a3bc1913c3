"""Sample data shipped inside the package, so that ``newsletter preview --sample`` and ``newsletter run --sample``
work offline, on a fresh clone, with no key and no list file.

``sglang-2026-01-13.json`` is fourteen commits of one day of sgl-project/sglang (titles, authors, times and
SHAs of that day; the messages, file lists and patches are abridged stand-ins written for this sample), in
the shape collect returns: a JSON list of models.RepoCommits.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import date
from importlib import resources
from pathlib import Path

from newsletter.errors import ConfigError
from newsletter.models import MailingList, RepoCommits, RepoSpec

SAMPLE_FILE = "sglang-2026-01-13.json"
SAMPLE_LIST_ID = "sample"
SAMPLE_READER = ("reader@example.com", "Sample Reader")  # example.com: reserved, never a real mailbox
SAMPLE_SOURCE = "sample"
SECRET_FILE = "sample-secret"


def sample_day() -> tuple[list[RepoCommits], date, str]:
    """The sample day: what collect would return, the day, and the timezone that defines it."""
    raw = resources.files("newsletter.samples").joinpath(SAMPLE_FILE).read_text("utf-8")
    repos = [RepoCommits.model_validate(item) for item in json.loads(raw)]
    window = repos[0].window
    return repos, window.local_date, window.timezone


def sample_list(timezone: str = "Asia/Shanghai") -> MailingList:
    """The list ``newsletter run --sample`` mails: the sample day's repository, in English, always to the
    outbox (never through SMTP or SES, whatever NEWSLETTER_DELIVERY says), mailed even on an empty day."""
    return MailingList(
        id=SAMPLE_LIST_ID,
        title="Sample commit digest",
        description="The sample day shipped with the package, mailed to a sample reader's outbox.",
        repos=[RepoSpec.parse("sgl-project/sglang")],
        timezone=timezone,
        language="en",
        sender="Commit Digest <digest@example.com>",
        postal_address="Commit Digest, 1 Example Road, Springfield 12345, USA",
        skip_empty_days=False,
        delivery="outbox",
    )


def sample_secret(data_dir: Path) -> str:
    """The secret that signs the sample reader's links when NEWSLETTER_SECRET is unset: made once per data
    folder (``<data dir>/sample-secret``, readable by its owner only) and reused, so that links in earlier
    sample messages keep working."""
    path = data_dir / SECRET_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
        value = path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ConfigError(f"cannot keep the sample secret in {path}: {err}", hint="check NEWSLETTER_DATA_DIR") from err
    if not value:
        raise ConfigError(f"{path} is empty", hint="delete it: the next `newsletter run --sample` makes a new one")
    return value
