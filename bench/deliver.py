"""Benchmark (run by hand, not in CI): the real campaign, as production runs it, with a null sender.

    .venv/bin/python bench/deliver.py [--sizes 10000,100000] [--concurrency 8] [--kb 90]
    .venv/bin/python bench/deliver.py --sizes 100000 --segments 50   # readers in segments (bench/segments.py)

For each size, in a fresh process: a SQLite store (the embedded default) with that many active members, a
realistic rendered issue (~90 KB of HTML with every placeholder, real signed tokens), and ``send_issue`` with
NEWSLETTER_SEND_CONCURRENCY worker threads, the ledger claimed and marked per recipient, and a sender that
takes each message and drops it. Then the same campaign again on the settled ledger (everyone skipped).
Prints messages per second, CPU (user/sys), minor page faults per message and the process's peak RSS.
Targets: >= 2,500 msg/s; RSS flat (about the same at 100k as at 10k).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter.deliver.campaign import CampaignOptions
from newsletter.deliver.message import MessageFactory
from newsletter.deliver.service import send_issue
from newsletter.models import MailingList, Placeholder, RenderedIssue, RepoSpec
from newsletter.store.base import MemberStatus
from newsletter.store.sqlite import SqliteStore
from newsletter.subscriptions import Tokens

LIST = "digest"
ISSUE = "digest/2026-01-13"


class NullSender:
    """Takes every message (reads its length, as a provider client would read the bytes) and drops it."""

    name = "null"

    def __init__(self) -> None:
        self.sent = 0
        self.bytes = 0

    def send(self, raw: bytes, *, sender: str, recipient: str) -> str:
        self.sent += 1
        self.bytes += len(raw)
        return f"null-{self.sent}"

    def max_send_rate(self) -> float | None:
        return None

    def describe(self) -> str:
        return "nowhere"

    def close(self) -> None:
        return None


def rendered_issue(kilobytes: int) -> RenderedIssue:
    block = (
        '<tr><td style="padding:8px 0;font-family:Arial,sans-serif;font-size:14px;color:#1f2328">'
        "<b>[high]</b> Speed up MoE dispatch on H200 — 将调度器的内存分配移出热路径 (#4711)</td></tr>\n"
    )
    links = (
        '<a href="https://d111.cloudfront.net/busy/2026-01-13.html">view</a> '
        f'<a href="{Placeholder.PREFERENCES_URL}">preferences</a> '
        f'<a href="{Placeholder.UNSUBSCRIBE_URL}">unsubscribe</a> {Placeholder.EMAIL}'
    )
    html = "<html><body>" + links + block * (kilobytes * 1024 // len(block)) + links + "</body></html>"
    text = ("- [high] Speed up MoE dispatch on H200 (#4711)\n" * 400) + f"Unsubscribe: {Placeholder.UNSUBSCRIBE_URL}\n"
    return RenderedIssue(
        subject="sglang daily · 2026-01-13 · Speed up MoE dispatch",
        preheader="",
        html=html,
        text=text,
        markdown=text,
        html_bytes=len(html.encode()),
    )


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def one(size: int, concurrency: int, kilobytes: int) -> dict[str, float]:
    """One size in this process: fill the store, send, send again; the figures as a dict."""
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "bench.db")
        for start in range(0, size, 1000):
            rows = [(f"reader{i:06d}@mail{i % 97}.example.org", f"Reader {i}") for i in range(start, start + 1000)]
            store.add_members(rows[: size - start], LIST, status=MemberStatus.ACTIVE, source="bench")
        mailing_list = MailingList(
            id=LIST,
            title="sglang daily",
            repos=[RepoSpec.parse("sgl-project/sglang")],
            sender="Commit Digest <digest@example.com>",
            postal_address="1 Example Road",
        )
        factory = MessageFactory(
            rendered_issue(kilobytes),
            mailing_list,
            tokens=Tokens("bench-Wd5Kq9Xz2Np7Rt4Lm1Vc8Hb3Jy6Fs0Ga"),
            public_url="https://news.example.com",
            view_url="https://news.example.com/digest/2026-01-13.html",
        )
        options = CampaignOptions(rate=None, concurrency=concurrency, lease_seconds=120.0)
        figures: dict[str, float] = {"rss_before": rss_mb()}
        for label in ("send", "again"):
            sender = NullSender()
            before = resource.getrusage(resource.RUSAGE_SELF)
            started = time.perf_counter()
            result = send_issue(
                ISSUE, store.active_recipients(LIST), store=store, sender=sender, factory=factory, options=options
            )
            seconds = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_SELF)
            expected = (size, 0) if label == "send" else (0, size)
            if (result.sent, result.skipped) != expected or sender.sent != expected[0]:
                raise SystemExit(f"{label}: sent {result.sent}, skipped {result.skipped}, expected {expected}")
            figures[f"{label}_seconds"] = seconds
            figures[f"{label}_user"] = after.ru_utime - before.ru_utime
            figures[f"{label}_sys"] = after.ru_stime - before.ru_stime
            figures[f"{label}_faults"] = after.ru_minflt - before.ru_minflt
            figures[f"{label}_rss"] = rss_mb()
            if label == "send":
                figures["kb_per_message"] = sender.bytes / size / 1024
        figures["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        store.close()
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--kb", type=int, default=90, help="size of the rendered HTML")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process of one size
    parser.add_argument(
        "--segments",
        type=int,
        help="readers with their own preferences in this many segments (bench/segments.py), per size",
    )
    args = parser.parse_args()
    if args.segments:
        from segments import main as segmented  # bench/segments.py: the same campaign, readers in segments

        for size in (int(s) for s in args.sizes.split(",")):
            segmented(size, args.segments)
        return
    if args.one:
        print(json.dumps(one(args.one, args.concurrency, args.kb)))
        return
    print(f"campaign with a null sender, {args.concurrency} threads, SQLite ledger, {args.kb} KB of HTML")
    for size in (int(s) for s in args.sizes.split(",")):
        child = [sys.executable, __file__, "--one", str(size), "--concurrency", str(args.concurrency)]
        f = json.loads(subprocess.run([*child, "--kb", str(args.kb)], check=True, capture_output=True).stdout)
        rate = size / f["send_seconds"]
        print(
            f"  {size:>7,} recipients: {rate:7,.0f} msg/s ({f['send_seconds']:.1f} s, user {f['send_user']:.1f} s,"
            f" sys {f['send_sys']:.1f} s, {f['send_faults'] / size:,.0f} page faults/msg,"
            f" {f['kb_per_message']:.0f} KB/msg); target >= 2,500: {rate / 2500:.2f}x"
        )
        print(
            f"  {'':>7}   again, all settled: {size / f['again_seconds']:7,.0f} skipped/s ({f['again_seconds']:.2f} s)"
        )
        print(
            f"  {'':>7}   RSS {f['rss_before']:.0f} MB before, {f['send_rss']:.0f} MB after sending,"
            f" peak {f['peak_rss']:.0f} MB"
        )


if __name__ == "__main__":
    main()
