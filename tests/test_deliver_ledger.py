"""The campaign's ledger logic on both stores (SQLite, DynamoDB through moto server), with the file outbox:
two runners at once, a dead runner's ambiguous entries, dry runs, test sends."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from newsletter import pipeline
from newsletter.config import Settings
from newsletter.context import Context
from newsletter.deliver.campaign import CampaignOptions, CampaignResult
from newsletter.deliver.outbox import OutboxSender
from newsletter.deliver.service import deliver, factory_for, send_issue
from newsletter.deliver.status import send_status
from newsletter.errors import InputError
from newsletter.store.base import LedgerState, MemberStatus
from newsletter.store.common import utcnow
from newsletter.subscriptions import Tokens, unsubscribe
from tests.deliver_support import SECRET, mailing_list, seed, sendable


def _settings() -> Settings:
    # A runner waits for another runner's unfinished entries until they settle or their lease runs out; a SENDING
    # entry past its lease is taken for a dead runner's (ambiguous). 10 s: far longer than one hand-over to the
    # outbox takes even on a loaded machine (1 s was not), while the entries settle in milliseconds.
    return Settings.from_env().model_copy(update={"send_rate": None, "send_concurrency": 4, "send_lease_seconds": 10.0})


def _recipients_of(outbox: Path) -> Counter[str]:
    found: Counter[str] = Counter()
    for path in outbox.glob("*.eml"):
        for line in path.read_bytes().split(b"\r\n"):
            if line.startswith(b"To: "):
                found[line[4:].decode()] += 1
                break
    return found


def test_two_runners_at_once_send_to_each_recipient_once(make_store: Callable, tmp_path: Path) -> None:
    # Real time: each runner judges the other's leases against the clock the store stamps entries with.
    emails = seed(make_store(clock=utcnow), 120)
    outbox = tmp_path / "outbox"
    results = []

    def run() -> None:
        store = make_store(clock=utcnow)  # its own connection / client, as a second machine would have
        results.append(
            deliver(
                mailing_list(),
                sendable(),
                settings=_settings(),
                store=store,
                sender=OutboxSender(outbox),
                tokens=Tokens(SECRET),
            )
        )

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in results) == 120, results
    assert sum(r.skipped for r in results) == 120, results
    assert _recipients_of(outbox) == Counter(emails)


def test_ambiguous_entries_are_reported_and_resent_only_when_asked(any_store, tmp_path: Path) -> None:
    emails = seed(any_store, 10)
    issue = sendable().issue_id
    # A runner that died after handing two messages to the provider, before recording the answer.
    for email in emails[:2]:
        assert any_store.claim(issue, email, "dead-runner", lease_seconds=60)
        any_store.mark(issue, email, "dead-runner", LedgerState.SENDING)
    outbox = tmp_path / "outbox"
    sender = OutboxSender(outbox)
    first = deliver(
        mailing_list(), sendable(), settings=_settings(), store=any_store, sender=sender, tokens=Tokens(SECRET)
    )
    assert (first.sent, first.ambiguous) == (8, 2)
    status = send_status(issue, "digest", any_store)
    assert status.counts["sending"] == 2 and [e.email for e in status.ambiguous] == emails[:2]

    dry = deliver(
        mailing_list(),
        sendable(),
        settings=_settings(),
        store=any_store,
        sender=sender,
        tokens=Tokens(SECRET),
        dry_run=True,
    )
    assert (dry.sent, dry.skipped, dry.ambiguous) == (0, 8, 2)

    resent = deliver(
        mailing_list(),
        sendable(),
        settings=_settings(),
        store=any_store,
        sender=sender,
        tokens=Tokens(SECRET),
        resend_ambiguous=True,
    )
    assert (resent.sent, resent.skipped, resent.ambiguous) == (2, 8, 0)
    assert _recipients_of(outbox) == Counter(emails)
    assert Counter(e.state for e in any_store.entries(issue)) == {LedgerState.SENT: 10}


def test_a_reserved_entry_of_a_dead_runner_is_taken_after_its_lease(any_store, clock, tmp_path: Path) -> None:
    emails = seed(any_store, 3)
    issue = sendable().issue_id
    assert any_store.claim(issue, emails[0], "dead-runner", lease_seconds=0.2)
    clock.advance(1)  # the store's clock: the lease has run out
    result = deliver(
        mailing_list(),
        sendable(),
        settings=_settings().model_copy(update={"send_lease_seconds": 0.2}),
        store=any_store,
        sender=OutboxSender(tmp_path / "outbox"),
        tokens=Tokens(SECRET),
    )
    assert result.sent == 3
    assert _recipients_of(tmp_path / "outbox") == Counter(emails)


def test_suppressed_and_unsubscribed_addresses_are_not_mailed(any_store, tmp_path: Path) -> None:
    emails = seed(any_store, 5)
    any_store.suppress(emails[1], "complained", "ses")
    result = deliver(
        mailing_list(),
        sendable(),
        settings=_settings(),
        store=any_store,
        sender=OutboxSender(tmp_path / "outbox"),
        tokens=Tokens(SECRET),
    )
    assert result.sent == 4
    assert emails[1] not in _recipients_of(tmp_path / "outbox")


def test_an_sqs_sender_defers_a_recipient_another_runner_still_holds(any_store, tmp_path: Path) -> None:
    """A batch sender (no ledger scan) whose claim fails because another runner holds the entry cannot vouch
    for it: the holder may still give it up. It reports the recipient deferred (so its SQS message comes back),
    never skipped (the message would be deleted and the recipient never mailed if the holder then released)."""
    emails = seed(any_store, 3)
    issue = sendable().issue_id
    assert any_store.claim(issue, emails[0], "other-runner", lease_seconds=60)
    factory = factory_for(mailing_list(), sendable(), settings=_settings(), tokens=Tokens(SECRET))
    options = CampaignOptions(lease_seconds=60, scan_ledger=False)
    outbox = OutboxSender(tmp_path / "outbox")

    def run() -> CampaignResult:
        recipients = any_store.active_recipients("digest")
        return send_issue(issue, recipients, store=any_store, sender=outbox, factory=factory, options=options)

    first = run()
    assert (first.sent, first.skipped, first.deferred) == (2, 0, 1)
    any_store.release(issue, emails[0], "other-runner")  # the holder gave up after transient errors
    second = run()
    assert (second.sent, second.skipped, second.deferred) == (1, 2, 0)
    assert _recipients_of(tmp_path / "outbox") == Counter(emails)


def test_a_full_run_waits_for_a_working_holder_and_takes_what_it_releases(make_store, tmp_path: Path) -> None:
    """Another runner keeps retrying one recipient (renewing its lease) past this run's wait, then gives up:
    this run sends it, instead of counting it skipped and calling the issue sent."""
    store = make_store(clock=utcnow)
    emails = seed(store, 3)
    issue = sendable().issue_id
    other = make_store(clock=utcnow)
    assert other.claim(issue, emails[0], "other-runner", lease_seconds=60)

    def retrying() -> None:
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            other.mark(issue, emails[0], "other-runner", LedgerState.RESERVED)
            time.sleep(0.05)
        other.release(issue, emails[0], "other-runner")

    holder = threading.Thread(target=retrying)
    holder.start()
    result = deliver(
        mailing_list(),
        sendable(),
        settings=_settings().model_copy(update={"send_lease_seconds": 0.3}),
        store=store,
        sender=OutboxSender(tmp_path / "outbox"),
        tokens=Tokens(SECRET),
    )
    holder.join()
    assert (result.sent, result.skipped, result.deferred) == (3, 0, 0)
    assert _recipients_of(tmp_path / "outbox") == Counter(emails)


def test_a_test_send_to_a_suppressed_address_is_refused(store_env, make_store, isolated_env: Path) -> None:
    """``send --to`` skips the ledger, not the suppression list: a complained address is never mailed again."""
    make_store().suppress("ann@example.org", "complained", "ses:abuse")
    with Context.open(Settings.from_env()) as ctx:
        with pytest.raises(InputError, match="suppressed"):
            pipeline.test_send(mailing_list(), sendable(), ctx, "Ann@Example.org")
        pipeline.test_send(mailing_list(), sendable(), ctx, "bob@example.org")
    assert _recipients_of(isolated_env / "outbox") == Counter(["bob@example.org"])


def test_an_unsubscribe_during_the_campaign_is_honoured_before_that_recipient_is_reached(
    any_store, tmp_path: Path
) -> None:
    emails = seed(any_store, 150)  # more than one chunk (100) of recipients re-checked together
    late = emails[-1]
    outbox = tmp_path / "outbox"

    def on_outcome(outcome: str) -> None:
        if outcome == "sent" and any_store.get_member(late, "digest").status == MemberStatus.ACTIVE:
            unsubscribe(any_store, late, "digest", source="test")  # the reader clicks while the issue goes out

    result = deliver(
        mailing_list(),
        sendable(),
        settings=_settings().model_copy(update={"send_concurrency": 1}),
        store=any_store,
        sender=OutboxSender(outbox),
        tokens=Tokens(SECRET),
        progress=on_outcome,
    )
    assert result.sent == 149
    assert late not in _recipients_of(outbox) and len(_recipients_of(outbox)) == 149
