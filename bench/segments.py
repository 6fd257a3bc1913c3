"""Delivering one issue to 100,000 readers in 50 segments: renders, messages per second and peak memory.

Run by hand: ``.venv/bin/python bench/segments.py [READERS] [SEGMENTS]``. A busy day of 120 analysed commits
(newsletter/samples/synthetic.py) is kept as the base issue in both languages; readers are spread evenly over
SEGMENTS choices of (language, lowest importance, areas); the real campaign runs (SQLite send ledger, claims,
consent re-checks, one message built per reader) with a sender that only counts, so what is measured is this
service and not a provider. It prints how many times an issue was rendered (the target: once per segment),
messages per second of the campaign, and the process's peak resident memory.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from datetime import date
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter.config import Settings
from newsletter.context import Context
from newsletter.deliver.service import SendableIssue
from newsletter.models import Importance, MailingList, ReaderPreferences, RepoSpec
from newsletter.pipeline import deliver_issue
from newsletter.render.email import render_issue
from newsletter.samples.synthetic import _AREAS, busy_issue
from newsletter.segments import keep_base, list_segment, narrow
from newsletter.store.base import MemberStatus

DAY = date(2026, 1, 13)


class CountingSender:
    """Takes every message and keeps nothing but the count: the campaign's own cost is what is measured."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, raw: bytes, *, sender: str, recipient: str) -> str:
        self.sent += 1
        return f"bench-{self.sent}"

    def max_send_rate(self) -> float | None:
        return None

    def describe(self) -> str:
        return "a counting sender"

    def close(self) -> None:
        pass


def choices(segments: int) -> list[ReaderPreferences]:
    """``segments`` distinct choices: area pairs and singles, both languages, three thresholds."""
    area_sets = [(f"python/pkg/{a}/",) for a in _AREAS] + [
        (f"python/pkg/{a}/", f"python/pkg/{b}/") for a, b in combinations(_AREAS, 2)
    ]
    levels = list(Importance)
    found = []
    for i in range(segments):
        language = ("en", "zh-CN")[i % 2]
        found.append(ReaderPreferences(language=language, min_importance=levels[i % 3], areas=area_sets[i // 2]))
    return found


def main(readers: int = 100_000, segments: int = 50) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-segments-"))
    settings = Settings.from_env({"NEWSLETTER_DATA_DIR": str(folder), "NEWSLETTER_SECRET": "bench-secret"})
    mailing_list = MailingList(
        id="busy",
        title="Inference engine daily",
        repos=[RepoSpec.parse("example-org/inference-engine")],
        languages=["en", "zh-CN"],
        sender="Digest <digest@example.com>",
        postal_address="1 Market Street",
    )
    ctx = Context(settings=settings)
    sender = CountingSender()
    ctx.senders[settings.delivery] = sender
    store = ctx.store
    key = f"busy/{DAY}"
    for language in ("en", "zh-CN"):
        keep_base(store, ctx.archive, key, busy_issue(120, language=language, day=DAY))
    base = keep_base(store, ctx.archive, key, busy_issue(120, language="en", day=DAY))
    issue = narrow(base, list_segment(mailing_list))
    sendable = SendableIssue(issue_id=key, rendered=render_issue(issue), view_url="https://x/")

    started = time.perf_counter()
    options = choices(segments)
    emails = [f"reader{i:06d}@example.com" for i in range(readers)]
    for start in range(0, readers, 1000):
        store.add_members(
            [(e, None) for e in emails[start : start + 1000]], "busy", status=MemberStatus.ACTIVE, source="b"
        )
    for i, email in enumerate(emails):
        store.set_preferences(email, "busy", options[i % len(options)], source="bench")
    print(f"{readers:,} readers with their preferences stored in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    result = deliver_issue(mailing_list, sendable, ctx)
    seconds = time.perf_counter() - started
    renders = time.perf_counter()
    for _ in range(3):
        render_issue(issue)
    render_seconds = (time.perf_counter() - renders) / 3
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"segments {result.segments}, rendered {result.rendered} times (target: once per segment,"
        f" {result.rendered / max(result.segments, 1):.2f}x); sent {result.sent:,}, empty {result.empty:,},"
        f" failed {result.failed}"
    )
    print(f"campaign: {seconds:.1f} s, {result.sent / seconds:,.0f} msg/s; peak RSS {peak:,.0f} MiB")
    print(
        f"one render: {render_seconds:.2f} s; per-reader renders would have cost {readers * render_seconds:,.0f} s,"
        f" the segments' {result.rendered * render_seconds:,.1f} s"
    )
    again = deliver_issue(mailing_list, sendable, ctx)
    print(f"rerun: sent {again.sent}, skipped {again.skipped:,}, rendered {again.rendered}")
    ctx.close()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
