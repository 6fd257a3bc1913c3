"""An issue's life (newsletter.lifecycle) on both stores: kept once with its body, prepared → sending → sent."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter import lifecycle
from newsletter.archive import LocalArchive
from newsletter.deliver.service import SendableIssue
from newsletter.errors import StoreError
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
    assert record and record.body is None and record.body_key and record.body_key.startswith("_sendable/digest/")
    assert archive.read_blob(record.body_key)
    assert lifecycle.load(any_store, archive, KEY) == huge
    assert archive.issue_keys() == []  # not an archived issue: the site does not list it
    (archive.folder / record.body_key).unlink()
    with pytest.raises(StoreError, match="missing from the archive"):
        lifecycle.load(any_store, archive, KEY)


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
