"""An issue's life (newsletter.lifecycle) on both stores: kept once with its body, prepared → sending → sent."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from newsletter import lifecycle, segments
from newsletter.archive import LocalArchive, S3Archive
from newsletter.deliver.service import SendableIssue
from newsletter.errors import StoreError
from newsletter.issue import Issue
from newsletter.lifecycle import IssueStatus
from newsletter.models import RenderedIssue
from newsletter.store.base import IssueRecord, LedgerState
from tests.deliver_support import DAY, sendable
from tests.stores import Store

KEY = f"digest/{DAY}"


@pytest.fixture
def archive(tmp_path: Path) -> LocalArchive:
    return LocalArchive(tmp_path / "archive", "https://digest.example.com")


def _builder(made: SendableIssue | None) -> tuple[Callable[[], SendableIssue | None], list[int]]:
    calls: list[int] = []

    def build() -> SendableIssue | None:
        calls.append(1)
        return made

    return build, calls


def test_prepared_once_then_reused_with_one_read(any_store: Store, archive: LocalArchive) -> None:
    build, calls = _builder(sendable())
    first = lifecycle.prepare(any_store, archive, "digest", DAY, build)
    assert (first.status, first.built, first.fresh, calls) == (IssueStatus.PREPARED, True, True, [1])
    again = lifecycle.prepare(any_store, archive, "digest", DAY, build)
    assert again.sendable == sendable() and not again.built and calls == [1]  # kept: not built again
    record = any_store.get_issue(KEY)
    assert record and record.body and record.body_key is None  # the body rides in the record
    assert lifecycle.load(any_store, archive, KEY) == sendable()


def test_a_lost_race_sends_the_winners_issue(make_store: Callable[..., Store], archive: LocalArchive) -> None:
    first, second = make_store(), make_store()
    lifecycle.prepare(first, archive, "digest", DAY, lambda: sendable())
    other = sendable(view_url="https://elsewhere.example.com/")
    # The second runner read no record, built its own, and then lost the conditional create.
    record = first.get_issue(KEY)
    assert record is not None
    won = lifecycle.prepare(second, archive, "digest", DAY, lambda: other)
    assert won.sendable == sendable() and not won.built


def test_a_body_too_large_for_a_record_is_kept_beside_the_archive(any_store: Store, archive: LocalArchive) -> None:
    noise = os.urandom(200_000).hex()  # incompressible: ~400 KB, over what one DynamoDB item holds
    huge = sendable().model_copy(
        update={
            "rendered": RenderedIssue(subject="s", preheader="p", html=noise, text=noise, markdown="", html_bytes=1)
        }
    )
    lifecycle.prepare(any_store, archive, "digest", DAY, lambda: huge)
    record = any_store.get_issue(KEY)
    assert record and record.body is None and record.body_key and record.body_key.startswith("sendable/digest/")
    assert archive.read_blob(record.body_key)
    assert lifecycle.load(any_store, archive, KEY) == huge
    assert archive.issue_keys() == []  # not an archived issue: the site does not list it
    # Kept outside the public site: nothing under the archive's folder, which `newsletter serve` serves.
    assert not [p for p in archive.folder.rglob("*") if p.is_file()]
    (archive.private_folder / record.body_key).unlink()
    with pytest.raises(StoreError, match="missing from the archive"):
        lifecycle.load(any_store, archive, KEY)


def _huge(key: str = KEY) -> SendableIssue:
    noise = os.urandom(200_000).hex()  # incompressible: ~400 KB, over what one DynamoDB item (or cache entry) holds
    rendered = RenderedIssue(subject="s", preheader="p", html=noise, text=noise, markdown="", html_bytes=1)
    return sendable().model_copy(update={"issue_id": key, "rendered": rendered})


def test_a_segments_render_and_a_base_issue_are_kept_whatever_their_size(
    make_store: Callable[..., Store], archive: LocalArchive
) -> None:
    """Segment renders and the per-language base issue are kept as parts of the issue, like its body: a render
    of ~400 KB (which the DynamoDB cache dropped without a word) comes back whole, the first one kept wins, and a
    large one lies in the private storage, not in the public site."""
    store, other = make_store(), make_store()
    big = _huge(f"{KEY}#zh-CN.low.daily.all")
    assert segments.keep_render(store, archive, big, "digest") == big
    assert segments.load_render(other, archive, big.issue_id) == big
    record = store.get_issue(big.issue_id)
    assert record and record.body is None and record.body_key  # too large for the record: beside it
    assert (archive.private_folder / record.body_key).is_file()
    small = sendable().model_copy(update={"issue_id": f"{KEY}#en.high.daily.all"})
    assert segments.keep_render(other, archive, small, "digest") == small
    changed = small.model_copy(update={"view_url": "https://changed.example.com/"})
    assert segments.keep_render(store, archive, changed, "digest") == small  # the first render kept wins
    record = store.get_issue(small.issue_id)
    assert record and record.body and not record.body_key  # small: inside the record
    base = Issue(title="t", date=DAY, timezone="UTC", language="en", list_id="digest", generated_at=datetime.now(UTC))
    assert segments.load_base(store, archive, KEY, "en") is None
    assert segments.keep_base(store, archive, KEY, base) == base
    assert segments.keep_base(other, archive, KEY, base.model_copy(update={"title": "other"})) == base
    assert segments.load_base(other, archive, KEY, "en") == base
    assert not [p for p in archive.folder.rglob("*") if p.is_file()]  # nothing of it in the public site
    assert lifecycle.load(store, archive, KEY) is None  # parts are not the issue: no issue was prepared


def test_large_bodies_on_s3_lie_outside_the_sites_prefix(any_store: Store, moto_endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = f"archive-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    archive = S3Archive(bucket, "site", "https://d111.cloudfront.net", client=s3)
    huge = _huge()
    lifecycle.prepare(any_store, archive, "digest", DAY, lambda: huge)
    big = _huge(f"{KEY}#zh-CN.low.daily.all")
    segments.keep_render(any_store, archive, big, "digest")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert len(keys) == 2 and all(k.startswith("private/site/sendable/digest/") for k in keys), keys
    assert lifecycle.load(any_store, archive, KEY) == huge
    assert segments.load_render(any_store, archive, big.issue_id) == big


def test_an_empty_day_is_skipped_once(any_store: Store, archive: LocalArchive) -> None:
    build, calls = _builder(None)
    assert lifecycle.prepare(any_store, archive, "digest", DAY, build).status == IssueStatus.SKIPPED
    skipped = lifecycle.prepare(any_store, archive, "digest", DAY, build)
    assert (skipped.status, skipped.sendable, skipped.fresh, calls) == (IssueStatus.SKIPPED, None, False, [1])


def _ledger(store: Store, sent: list[str], failed: list[str]) -> None:
    for email in sent + failed:
        assert store.claim(KEY, email, "r", lease_seconds=60)
        store.mark(KEY, email, "r", LedgerState.SENT if email in sent else LedgerState.FAILED)


def test_a_campaign_moves_it_to_sending_then_sent_with_the_ledgers_counts(
    any_store: Store, archive: LocalArchive
) -> None:
    lifecycle.prepare(any_store, archive, "digest", DAY, lambda: sendable())
    assert lifecycle.start_sending(any_store, KEY) == IssueStatus.SENDING
    prepared = lifecycle.prepare(any_store, archive, "digest", DAY, lambda: None)
    assert prepared.status == IssueStatus.SENDING and not prepared.fresh  # a tick would not queue it again
    _ledger(any_store, ["a@example.com", "b@example.com"], ["c@example.com"])
    assert lifecycle.settle(any_store, KEY) == IssueStatus.SENT
    record = any_store.get_issue(KEY)
    assert record and record.status == IssueStatus.SENT and (record.stats["sent"], record.stats["failed"]) == (2, 1)
    assert lifecycle.start_sending(any_store, KEY) == IssueStatus.SENT  # never back


def test_on_aws_the_issue_is_sent_when_every_queued_batch_is_done(any_store: Store, archive: LocalArchive) -> None:
    lifecycle.prepare(any_store, archive, "digest", DAY, lambda: sendable())
    assert lifecycle.start_sending(any_store, KEY, batches=3) == IssueStatus.SENDING
    _ledger(any_store, ["a@example.com", "b@example.com", "c@example.com"], [])
    assert lifecycle.finish_batch(any_store, KEY, 0) == IssueStatus.SENDING
    assert lifecycle.finish_batch(any_store, KEY, 0) == IssueStatus.SENDING  # delivered twice: counted once
    assert lifecycle.finish_batch(any_store, KEY, 2) == IssueStatus.SENDING
    assert lifecycle.finish_batch(any_store, KEY, 1) == IssueStatus.SENT
    record = any_store.get_issue(KEY)
    assert record and record.stats == {"sqs_messages": 3, "sent": 3, "failed": 0}


def test_batches_done_before_the_tick_records_them_still_end_sent(any_store: Store, archive: LocalArchive) -> None:
    """The senders can finish every batch before the tick writes how many it queued: the tick settles it."""
    lifecycle.prepare(any_store, archive, "digest", DAY, lambda: sendable())
    assert lifecycle.finish_batch(any_store, KEY, 0) == IssueStatus.PREPARED
    assert lifecycle.finish_batch(any_store, KEY, 1) == IssueStatus.PREPARED
    assert lifecycle.start_sending(any_store, KEY, batches=2) == IssueStatus.SENT


def test_a_duplicated_tick_never_writes_sending_over_sent(
    make_store: Callable[..., Store], archive: LocalArchive
) -> None:
    """Two ticks for the same list and day (EventBridge delivers at least once): the duplicate read the issue
    while it was prepared; by the time it moves it, the first tick queued the batches and the last sender
    batch made it sent. The duplicate's move must not land, and the issue stays sent with its counts."""
    first, duplicate = make_store(), make_store()
    assert lifecycle.prepare(first, archive, "digest", DAY, lambda: sendable()).fresh
    assert lifecycle.prepare(duplicate, archive, "digest", DAY, lambda: sendable()).fresh  # read as prepared
    assert lifecycle.start_sending(first, KEY, batches=1) == IssueStatus.SENDING
    _ledger(first, ["a@example.com"], [])
    assert lifecycle.finish_batch(first, KEY, 0) == IssueStatus.SENT
    # The duplicate's own start_sending re-reads (sent: it does nothing); its write, had it read before the
    # move, is refused by the store's condition.
    assert lifecycle.start_sending(duplicate, KEY, batches=1) == IssueStatus.SENT
    record = first.get_issue(KEY)
    assert record is not None
    stale = record.model_copy(update={"status": IssueStatus.SENDING, "stats": {"sqs_messages": 1}})
    assert not duplicate.update_issue(stale, expected=IssueStatus.PREPARED)
    assert not duplicate.update_issue(stale, expected=IssueStatus.SENDING)
    final = first.get_issue(KEY)
    assert final and final.status == IssueStatus.SENT and final.stats == {"sqs_messages": 1, "sent": 1, "failed": 0}


def test_an_issue_kept_before_bodies_moved_into_the_record_is_still_sent_as_it_was(
    any_store: Store, archive: LocalArchive
) -> None:
    now = datetime.now(UTC)
    fields = {"issue_id": KEY, "list_id": "digest", "date": DAY, "created_at": now, "updated_at": now}
    old = IssueRecord.model_validate({**fields, "status": "built"})  # the status such records were written with
    assert old.status == IssueStatus.PREPARED
    any_store.create_issue(old)
    any_store.put("sent-issue", KEY, sendable().model_dump(mode="json"))
    build, calls = _builder(sendable(view_url="https://changed.example.com/"))
    prepared = lifecycle.prepare(any_store, archive, "digest", DAY, build)
    assert (prepared.status, prepared.sendable, calls) == (IssueStatus.PREPARED, sendable(), [])
