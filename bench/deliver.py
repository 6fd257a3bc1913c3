"""Preparing personalised messages: 10,000 recipients of one issue, messages per second and peak memory.

Run by hand: ``/work/venv/bin/python bench/deliver.py [N]``. Uses a realistic ~90 KB rendered issue (the
size budget's order of magnitude) with every placeholder, real signed tokens, and builds each message to
bytes exactly as the campaign does (the provider call is not part of it). Target: ≥ 1,000 msg/s, < 200 MB.
"""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter.deliver.message import MessageFactory
from newsletter.models import MailingList, Placeholder, RenderedIssue, RepoSpec
from newsletter.subscriptions import Tokens


def issue(kilobytes: int = 90) -> RenderedIssue:
    block = (
        '<tr><td style="padding:8px 0;font-family:Arial,sans-serif;font-size:14px;color:#1f2328">'
        "<b>[high]</b> Speed up MoE dispatch on H200 — 将调度器的内存分配移出热路径 (#4711)</td></tr>\n"
    )
    links = (
        f'<a href="{Placeholder.VIEW_URL}">view</a> <a href="{Placeholder.PREFERENCES_URL}">preferences</a> '
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


def main(n: int = 10_000) -> None:
    mailing_list = MailingList(
        id="digest",
        title="sglang daily",
        repos=[RepoSpec.parse("sgl-project/sglang")],
        sender="Commit Digest <digest@example.com>",
        postal_address="1 Example Road",
    )
    rendered = issue()
    tracemalloc.start()
    started = time.perf_counter()
    factory = MessageFactory(
        rendered,
        mailing_list,
        tokens=Tokens("bench-Wd5Kq9Xz2Np7Rt4Lm1Vc8Hb3Jy6Fs0Ga"),
        public_url="https://news.example.com",
        view_url="https://news.example.com/digest/",
    )
    total = 0
    for i in range(n):
        total += len(factory.build(f"reader{i:05d}@example.org", f"Reader {i}"))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = n / elapsed
    print(f"html part        {rendered.html_bytes / 1024:.0f} KB per issue")
    print(f"messages         {n:,} in {elapsed:.2f} s = {rate:,.0f} msg/s  (target ≥ 1,000: {rate / 1000:.1f}×)")
    print(f"bytes built      {total / 1e6:,.0f} MB ({total / n / 1024:.0f} KB per message)")
    print(f"peak traced      {peak / 1e6:.1f} MB; max RSS {rss_mb:.0f} MB  (target < 200 MB: {200 / rss_mb:.1f}×)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
