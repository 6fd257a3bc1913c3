"""The campaign's ledger logic on both stores (SQLite, DynamoDB through moto server), with the file outbox:
two runners at once, a dead runner's ambiguous entries, dry runs, test sends."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from newsletter.config import Settings
from newsletter.deliver.campaign import send_status
from newsletter.deliver.outbox import OutboxSender
from newsletter.deliver.service import deliver
from newsletter.store.base import LedgerState
from newsletter.subscriptions import Tokens
from tests.deliver_support import SECRET, mailing_list, seed, sendable


def _settings() -> Settings:
    return replace(Settings.from_env(), send_rate=None, send_concurrency=4)


def _recipients_of(outbox: Path) -> Counter[str]:
    found: Counter[str] = Counter()
    for path in outbox.glob("*.eml"):
        for line in path.read_bytes().split(b"\r\n"):
            if line.startswith(b"To: "):
                found[line[4:].decode()] += 1
                break
    return found


def test_two_runners_at_once_send_to_each_recipient_once(make_store: Callable, tmp_path: Path) -> None:
    emails = seed(make_store(), 120)
    outbox = tmp_path / "outbox"
    results = []

    def run() -> None:
        store = make_store()  # its own connection / client, as a second machine would have
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
    assert sum(r.sent for r in results) == 120
    assert sum(r.skipped for r in results) == 120
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
        settings=replace(_settings(), send_lease_seconds=0.2),
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
