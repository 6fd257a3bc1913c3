"""Fan-out on moto (by hand, not in CI): N subscribers through the scheduled tick and send_batch.

    python bench/fanout.py [--subscribers 20000] [--batch 50]

Prints the tick's time (build + archive + enqueue), the number of SQS messages, and the sending throughput
of draining the queue through send_batch (moto's SES accepts everything at once; the rate limit is lifted,
so this measures our own cost per message plus DynamoDB/SES round trips to moto on loopback).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter.aws import handlers
from newsletter.store.base import MemberStatus
from tests.aws_stack import DATA, event, make_stack
from tests.fakes.aws import moto_server
from tests.fakes.github import FakeGitHub


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    with (
        tempfile.TemporaryDirectory() as tmp,
        moto_server() as endpoint,
        FakeGitHub(DATA / "github" / "widgets-2026-03-08") as gh,
    ):
        stack = make_stack(endpoint, Path(tmp), {"GITHUB_API_URL": gh.api_url, "GITHUB_URL": gh.web_url})
        os.environ.update(stack.env, NEWSLETTER_DATA_DIR=tmp, NEWSLETTER_SEND_BATCH=str(args.batch))
        os.environ["NEWSLETTER_SEND_RATE"] = "100000"
        store = stack.store()
        emails = [f"reader{i:06d}@{stack.domain}" for i in range(args.subscribers)]
        started = time.perf_counter()
        for i in range(0, len(emails), 1000):
            store.add_members(
                [(e, None) for e in emails[i : i + 1000]], "widgets", status=MemberStatus.ACTIVE, source="bench"
            )
        print(f"seeded {len(emails):,} subscribers in {time.perf_counter() - started:.1f}s", flush=True)

        scheduled = event("scheduler-event.json")
        started = time.perf_counter()
        tick = handlers.scheduled(scheduled, None)
        tick_s = time.perf_counter() - started
        messages = tick["issues"][0]["messages"]
        print(f"tick: {tick_s:.1f}s, {messages:,} SQS messages ({args.batch} recipients each)", flush=True)

        started = time.perf_counter()
        handled, _ = stack.drain(handlers.send_batch)
        drain_s = time.perf_counter() - started
        sent = len(stack.mails())
        print(f"send_batch: {handled:,} SQS messages, {sent:,} emails in {drain_s:.1f}s", flush=True)
        print(f"throughput: {sent / drain_s:,.0f} messages/s (one process, 8 send threads, moto on loopback)")
        record = store.get_issue(tick["issues"][0]["issue"])
        print(f"issue status after the drain: {record.status if record else None} ({record.stats if record else {}})")
        again = handlers.scheduled(scheduled, None)["issues"][0]["messages"]
        print(f"duplicate tick enqueued {again} messages; emails per subscriber: {sent / len(emails):.3f}")


if __name__ == "__main__":
    main()
