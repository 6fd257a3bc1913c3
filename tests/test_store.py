"""The store contracts, run against both backends (SQLite in tmp, DynamoDB through moto server)."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from newsletter import subscriptions
from newsletter.backends import open_store
from newsletter.config import Settings
from newsletter.deliver.mailer import Pace, PacedMailer
from newsletter.deliver.outbox import OutboxSender
from newsletter.errors import ConfigError, ConflictError, InputError
from newsletter.store.base import IssueRecord, IssueStatus, LedgerMark, LedgerState, MemberStatus
from newsletter.store.dynamodb import DynamoStore
from newsletter.store.sqlite import SqliteStore
from tests.deliver_support import SECRET, mailing_list
from tests.stores import FakeClock, Store

A, B = "ada@example.com", "bob@example.com"


def _race(stores: list[Store], action: Callable[[Store, int], object]) -> list[object]:
    """Run ``action`` on each store in its own thread, released at the same moment."""
    barrier = threading.Barrier(len(stores))
    results: list[object] = [None] * len(stores)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = action(stores[i], i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# --- cache --------------------------------------------------------------------------------------------


def test_cache_round_trip(any_store: Store) -> None:
    assert any_store.get("commit", "abc") is None
    any_store.put("commit", "abc", {"title": "修复 a bug", "n": 3, "files": [{"path": "x.py"}]})
    assert any_store.get("commit", "abc") == {"title": "修复 a bug", "n": 3, "files": [{"path": "x.py"}]}
    assert any_store.get("analysis", "abc") is None


# --- send ledger --------------------------------------------------------------------------------------


def test_claim_once_then_mark_and_entries(any_store: Store) -> None:
    assert any_store.claim("sglang/2026-01-13", A, "r1", lease_seconds=60)
    assert not any_store.claim("sglang/2026-01-13", A, "r2", lease_seconds=60)
    assert not any_store.claim("sglang/2026-01-13", A, "r1", lease_seconds=60)  # not even the holder, twice
    assert any_store.claim("sglang/2026-01-13", B, "r2", lease_seconds=60)
    any_store.mark("sglang/2026-01-13", A, "r1", LedgerState.SENDING)
    any_store.mark("sglang/2026-01-13", A, "r1", LedgerState.SENT, message_id="m-1")
    any_store.mark("sglang/2026-01-13", B, "r2", LedgerState.FAILED, reason="mailbox does not exist")
    with pytest.raises(ConflictError):
        any_store.mark("sglang/2026-01-13", B, "r1", LedgerState.SENT)
    entries = list(any_store.entries("sglang/2026-01-13"))
    assert [(e.email, e.state, e.runner, e.message_id, e.reason) for e in entries] == [
        (A, LedgerState.SENT, "r1", "m-1", None),
        (B, LedgerState.FAILED, "r2", None, "mailbox does not exist"),
    ]
    assert list(any_store.entries("other/2026-01-13")) == []


def test_two_runners_race_for_the_same_recipients_and_exactly_one_wins_each(make_store: Callable[..., Store]) -> None:
    stores = [make_store(), make_store()]  # two connections / two clients, as two machines would have
    emails = [f"user{i}@example.com" for i in range(8)]

    def claim_all(store: Store, i: int) -> list[str]:
        return [e for e in emails if store.claim("l/2026-01-13", e, f"runner{i}", lease_seconds=300)]

    won = _race(stores, claim_all)
    assert isinstance(won[0], list) and isinstance(won[1], list)
    assert sorted(won[0] + won[1]) == sorted(emails)  # every recipient claimed once, by exactly one runner
    assert not set(won[0]) & set(won[1])


def test_lease_expiry_lets_another_runner_retake_only_reserved(any_store: Store, clock: FakeClock) -> None:
    issue = "l/2026-01-13"
    assert any_store.claim(issue, A, "r1", lease_seconds=60)
    assert any_store.claim(issue, B, "r1", lease_seconds=60)
    any_store.mark(issue, B, "r1", LedgerState.SENDING)
    clock.advance(59)
    assert not any_store.claim(issue, A, "r2", lease_seconds=60)
    clock.advance(2)
    assert any_store.claim(issue, A, "r2", lease_seconds=60)  # r1 died holding a reservation
    assert not any_store.claim(issue, B, "r2", lease_seconds=60)  # SENDING is ambiguous: never retaken
    with pytest.raises(ConflictError):
        any_store.mark(issue, A, "r1", LedgerState.SENT)  # r1 woke up too late
    clock.advance(10_000)
    any_store.mark(issue, A, "r2", LedgerState.SENT, message_id="m")
    assert not any_store.claim(issue, A, "r3", lease_seconds=60)


def test_release_only_by_the_holder(any_store: Store) -> None:
    issue = "l/2026-01-13"
    assert any_store.claim(issue, A, "r1", lease_seconds=60)
    any_store.release(issue, A, "r2")  # not the holder: nothing happens
    assert not any_store.claim(issue, A, "r2", lease_seconds=60)
    any_store.release(issue, A, "r1")
    assert list(any_store.entries(issue)) == []
    assert any_store.claim(issue, A, "r2", lease_seconds=60)


def test_claims_and_marks_in_groups_keep_the_rules_of_one_at_a_time(make_store: Callable[..., Store]) -> None:
    """What a campaign worker does per group: claim many at once, then write a SENT and the next SENDING together."""
    issue = "l/2026-01-13"
    first, second = make_store(), make_store()
    emails = [f"user{i}@example.com" for i in range(6)]
    assert first.claim(issue, emails[0], "r1", lease_seconds=60)
    first.mark(issue, emails[0], "r1", LedgerState.SENDING)
    first.mark(issue, emails[0], "r1", LedgerState.SENT, message_id="m-0")  # settled
    assert first.claim(issue, emails[1], "r1", lease_seconds=60)  # held by a live runner
    assert second.claim_many(issue, emails, "r2", lease_seconds=60) == set(emails[2:])
    assert second.claim_many(issue, emails, "r3", lease_seconds=60) == set()  # nobody takes them twice

    lost = second.mark_many(
        issue,
        "r2",
        [
            LedgerMark(emails[2], LedgerState.SENDING),
            LedgerMark(emails[1], LedgerState.SENDING),  # not r2's: refused, the others still written
            LedgerMark(emails[3], LedgerState.FAILED, reason="no such mailbox"),
        ],
    )
    assert lost == {emails[1]}
    lost = second.mark_many(
        issue,
        "r2",
        [LedgerMark(emails[2], LedgerState.SENT, "m-2"), LedgerMark(emails[4], LedgerState.SENDING)],
    )
    assert lost == set()
    states = {e.email: (e.state, e.runner, e.message_id, e.reason) for e in first.entries(issue)}
    assert states == {
        emails[0]: (LedgerState.SENT, "r1", "m-0", None),
        emails[1]: (LedgerState.RESERVED, "r1", None, None),
        emails[2]: (LedgerState.SENT, "r2", "m-2", None),
        emails[3]: (LedgerState.FAILED, "r2", None, "no such mailbox"),
        emails[4]: (LedgerState.SENDING, "r2", None, None),
        emails[5]: (LedgerState.RESERVED, "r2", None, None),
    }


def test_group_claims_and_marks_follow_leases_and_repeated_addresses(any_store: Store, clock: FakeClock) -> None:
    """claim_many and mark_many give what claim and mark one at a time give: an expired reservation is taken, a
    SENDING one never; an address given twice is claimed once, and its marks are written in the order given."""
    issue = "l/2026-01-13"
    assert any_store.claim_many(issue, [A, B], "r1", lease_seconds=60) == {A, B}
    assert any_store.mark_many(issue, "r1", [LedgerMark(B, LedgerState.SENDING)]) == set()
    clock.advance(61)
    c, d = "cy@example.com", "di@example.com"
    assert any_store.claim_many(issue, [A, B, c, c], "r2", lease_seconds=60) == {A, c}
    assert any_store.claim_many(issue, [A, c, d], "r2", lease_seconds=60) == {d}  # its own, within the lease
    lost = any_store.mark_many(
        issue,
        "r2",
        [
            LedgerMark(A, LedgerState.SENDING),
            LedgerMark(B, LedgerState.SENT, "m-b"),  # r1's: refused
            LedgerMark(A, LedgerState.SENT, "m-a"),
            LedgerMark(c, LedgerState.FAILED, reason="no such mailbox"),
        ],
    )
    assert lost == {B}
    assert any_store.mark_many(issue, "r1", [LedgerMark(A, LedgerState.SENT), LedgerMark(B, LedgerState.SENT)]) == {A}
    states = {e.email: (e.state, e.runner, e.message_id, e.reason) for e in any_store.entries(issue)}
    assert states == {
        A: (LedgerState.SENT, "r2", "m-a", None),
        B: (LedgerState.SENT, "r1", None, None),
        c: (LedgerState.FAILED, "r2", None, "no such mailbox"),
        d: (LedgerState.RESERVED, "r2", None, None),
    }


def test_two_runners_claiming_in_groups_at_once_take_each_recipient_once(make_store: Callable[..., Store]) -> None:
    stores = [make_store(), make_store()]
    emails = [f"user{i:02d}@example.com" for i in range(40)]

    def claim_groups(store: Store, i: int) -> set[str]:
        order = emails if i == 0 else emails[::-1]
        return set().union(
            *(
                store.claim_many("l/2026-01-13", order[k : k + 8], f"runner{i}", lease_seconds=300)
                for k in range(0, 40, 8)
            )
        )

    won = _race(stores, claim_groups)
    assert isinstance(won[0], set) and isinstance(won[1], set)
    assert won[0] | won[1] == set(emails) and not won[0] & won[1]


# --- issue records and bounce events ------------------------------------------------------------------


def test_issue_records_are_created_once(make_store: Callable[..., Store], clock: FakeClock) -> None:
    now = clock()
    record = IssueRecord(
        issue_id="sglang/2026-01-13", list_id="sglang", date=date(2026, 1, 13), created_at=now, updated_at=now
    )
    stores = [make_store(), make_store()]
    created = _race(stores, lambda store, _: store.create_issue(record))
    assert sorted(created) == [False, True]
    assert stores[0].get_issue("sglang/2026-01-13") == record
    record.status, record.stats = IssueStatus.SENT, {"sent": 3, "cost_usd": 0.0123}
    assert stores[1].update_issue(record, expected=IssueStatus.PREPARED)
    assert stores[0].get_issue("sglang/2026-01-13") == record
    assert stores[0].get_issue("sglang/2026-01-14") is None


def test_issue_status_moves_only_from_the_status_it_was_read_with(any_store: Store, clock: FakeClock) -> None:
    now = clock()
    fields = {"issue_id": "sglang/2026-01-13", "list_id": "sglang", "date": date(2026, 1, 13)}
    prepared = IssueRecord(**fields, created_at=now, updated_at=now)
    assert any_store.create_issue(prepared)
    sending = prepared.model_copy(update={"status": IssueStatus.SENDING, "stats": {"sqs_messages": 2}})
    sent = sending.model_copy(update={"status": IssueStatus.SENT, "stats": {"sqs_messages": 2, "sent": 9}})
    assert not any_store.update_issue(sent, expected=IssueStatus.SENDING)  # it is not sending yet
    assert any_store.update_issue(sending, expected=IssueStatus.PREPARED)
    assert not any_store.update_issue(sending, expected=IssueStatus.PREPARED)  # a second starter loses
    assert any_store.update_issue(sent, expected=IssueStatus.SENDING)
    stale = prepared.model_copy(update={"status": IssueStatus.SENDING, "stats": {"sqs_messages": 5}})
    assert not any_store.update_issue(stale, expected=IssueStatus.PREPARED)  # read before it moved: refused
    assert any_store.get_issue("sglang/2026-01-13") == sent
    missing = prepared.model_copy(update={"issue_id": "sglang/2026-01-14", "date": date(2026, 1, 14)})
    assert not any_store.update_issue(missing, expected=IssueStatus.PREPARED)  # no record: nothing is written
    assert any_store.get_issue("sglang/2026-01-14") is None


def test_issue_batches_count_once_each(any_store: Store) -> None:
    issue = "sglang/2026-01-13"
    assert any_store.batches_done(issue) == 0
    assert [any_store.finish_batch(issue, n) for n in (0, 2, 0, 1, 2)] == [1, 2, 2, 3, 3]  # SQS redelivers
    assert any_store.batches_done(issue) == 3
    assert any_store.batches_done("sglang/2026-01-14") == 0


def test_notifications_once_and_soft_bounces(any_store: Store) -> None:
    assert any_store.first_time("n-1")
    assert not any_store.first_time("n-1")
    t1 = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)
    t2 = datetime(2026, 1, 12, 3, 0, 0, 500, tzinfo=UTC)
    assert any_store.record_soft_bounce(A, t2) == [t2]
    assert any_store.record_soft_bounce(A, t1) == [t1, t2]
    assert any_store.record_soft_bounce(A, t1) == [t1, t2]
    assert any_store.record_soft_bounce(B, t1) == [t1]


# --- subscribers and consent --------------------------------------------------------------------------


def _tokens(clock: FakeClock) -> subscriptions.Tokens:
    return subscriptions.Tokens(SECRET, clock=clock.epoch)


def test_double_opt_in_and_consent_record(any_store: Store, clock: FakeClock) -> None:
    tokens = _tokens(clock)
    started = clock()
    done = subscriptions.subscribe(any_store, tokens, " Ada@Example.COM ", "sglang", name="Ada", source="web")
    assert done.email == A and done.transition.after == MemberStatus.PENDING and done.token
    assert list(any_store.active_recipients("sglang")) == []  # pending is never mailed
    clock.advance(3600)
    confirmed = subscriptions.confirm(any_store, tokens, done.token, source="web")
    assert confirmed.transition.changed
    assert [(r.email, r.name) for r in any_store.active_recipients("sglang")] == [(A, "Ada")]
    again = subscriptions.confirm(any_store, tokens, done.token, source="web")  # twice is fine
    assert not again.transition.changed
    clock.advance(60)
    subscriptions.unsubscribe(any_store, A, "sglang", source="link")
    member = any_store.get_member(A, "sglang")
    assert member and member.status == MemberStatus.UNSUBSCRIBED and member.source == "link"
    assert member.created_at == started and member.updated_at == started + timedelta(seconds=3660)
    log = [(e["action"], e["status"], e["source"], e["at"]) for e in any_store.person(A)["consent_log"]]
    assert log == [
        ("subscribed", "pending", "web", "2026-01-13T08:00:00Z"),
        ("confirmed", "active", "web", "2026-01-13T09:00:00Z"),
        ("unsubscribed", "unsubscribed", "link", "2026-01-13T09:01:00Z"),
    ]
    with pytest.raises(InputError, match="unsubscribed from sglang after this link was sent"):
        subscriptions.confirm(any_store, tokens, done.token, source="web")


def test_unsubscribe_is_immediate_and_idempotent(any_store: Store) -> None:
    subscriptions.subscribe(any_store, None, A, "sglang", source="cli", confirmed=True)
    subscriptions.subscribe(any_store, None, B, "sglang", source="cli", confirmed=True)
    first = subscriptions.unsubscribe(any_store, A, "sglang", source="cli")
    second = subscriptions.unsubscribe(any_store, A, "sglang", source="cli")
    assert first.changed and not second.changed and second.before == MemberStatus.UNSUBSCRIBED
    assert [r.email for r in any_store.active_recipients("sglang")] == [B]
    nobody = subscriptions.unsubscribe(any_store, "carol@example.com", "sglang", source="cli")
    assert nobody.before is None and not nobody.changed
    assert any_store.get_member("carol@example.com", "sglang") is None
    # an operator cannot undo an unsubscribe with --confirmed unless the person asked (--override)
    with pytest.raises(InputError, match="cannot re-subscribe"):
        subscriptions.subscribe(any_store, None, A, "sglang", source="cli", confirmed=True)
    assert subscriptions.subscribe(any_store, None, A, "sglang", source="cli", confirmed=True, override=True)


def test_still_active_rechecks_a_snapshot_in_one_batch(any_store: Store) -> None:
    people = [f"p{i:03d}@example.com" for i in range(620)]  # more than one SQLite chunk / DynamoDB batch
    any_store.add_members([(e, None) for e in people], "sglang", status=MemberStatus.ACTIVE, source="test")
    any_store.add_members([("pending@example.com", None)], "sglang", status=MemberStatus.PENDING, source="test")
    any_store.add_members([(people[1], None)], "other", status=MemberStatus.ACTIVE, source="test")
    subscriptions.unsubscribe(any_store, people[0], "sglang", source="link")
    any_store.suppress(people[1], "bounced", "ses")
    asked = [*people, people[2], "pending@example.com", "stranger@example.com"]
    assert any_store.still_active("sglang", asked) == set(people[2:])
    assert any_store.still_active("other", asked) == set()  # suppressed everywhere
    assert any_store.still_active("sglang", []) == set()


def test_suppression_wins_over_every_list(any_store: Store) -> None:
    for list_id in ("sglang", "other"):
        subscriptions.subscribe(any_store, None, A, list_id, source="cli", confirmed=True)
        subscriptions.subscribe(any_store, None, B, list_id, source="cli", confirmed=True)
    any_store.suppress(A, "complained", "ses")
    assert any_store.is_suppressed(A) and not any_store.is_suppressed(B)
    for list_id in ("sglang", "other"):
        assert [r.email for r in any_store.active_recipients(list_id)] == [B]
        member = any_store.get_member(A, list_id)
        assert member and member.status == MemberStatus.ACTIVE  # the membership itself is untouched
    with pytest.raises(InputError, match="suppressed \\(complained"):
        subscriptions.subscribe(any_store, None, A, "third", source="web")
    done = subscriptions.subscribe(any_store, None, A, "third", source="web", override=True)
    assert done.transition.after == MemberStatus.PENDING and not any_store.is_suppressed(A)
    actions = [e["action"] for e in any_store.person(A)["consent_log"]]
    assert actions[-3:] == ["suppressed", "unsuppressed", "subscribed"]


def test_concurrent_confirmations_change_once(make_store: Callable[..., Store], clock: FakeClock) -> None:
    tokens = _tokens(clock)
    stores = [make_store(), make_store()]
    token = subscriptions.subscribe(stores[0], tokens, A, "sglang", source="web").token
    assert token
    results = _race(stores, lambda store, _: subscriptions.confirm(store, tokens, token, source="web"))
    assert sorted(r.transition.changed for r in results) == [False, True]  # type: ignore[attr-defined]
    assert [e["action"] for e in stores[0].person(A)["consent_log"]] == ["subscribed", "confirmed"]


def test_batches_are_idempotent_and_never_resubscribe(any_store: Store) -> None:
    subscriptions.subscribe(any_store, None, A, "sglang", source="cli", confirmed=True)
    subscriptions.unsubscribe(any_store, A, "sglang", source="cli")
    any_store.suppress("spam@example.com", "bounced", "ses")
    rows = [(A, None), (B, "Bob"), ("spam@example.com", None), (B, "Bob again"), ("c@example.com", None)]
    first = any_store.add_members(rows, "sglang", status=MemberStatus.ACTIVE, source="import:x.csv")
    assert first.added == [B, "c@example.com"]
    assert first.present == [A, B]
    assert first.suppressed == ["spam@example.com"]
    member = any_store.get_member(A, "sglang")
    assert member and member.status == MemberStatus.UNSUBSCRIBED
    bob = any_store.get_member(B, "sglang")
    assert bob and bob.name == "Bob" and bob.source == "import:x.csv"
    second = any_store.add_members(rows, "sglang", status=MemberStatus.ACTIVE, source="import:x.csv")
    assert second.added == [] and len(second.present) == 4
    counts = any_store.count_members("sglang")
    assert counts == {MemberStatus.PENDING: 0, MemberStatus.ACTIVE: 2, MemberStatus.UNSUBSCRIBED: 1}
    assert any_store.add_members([], "sglang", status=MemberStatus.ACTIVE, source="x").added == []


def test_an_import_batch_may_bind_more_addresses_than_sqlite_allows_in_one_query(tmp_path: Path) -> None:
    # The import's batches are large (roster.IMPORT_BATCH). How many bound parameters one statement may have
    # depends on the build (999 before SQLite 3.32, 32,766 since, 250,000 in Debian's): the store looks a
    # batch up in chunks, and this batch is over the default limit.
    store = SqliteStore(tmp_path / "big.db")
    emails = [f"reader{i:05d}@example.com" for i in range(33_000)]
    store.add_members([(e, None) for e in emails[:3]], "l", status=MemberStatus.PENDING, source="t")
    store.suppress(emails[-1], "manual", "cli")
    outcome = store.add_members([(e, None) for e in emails], "l", status=MemberStatus.ACTIVE, source="import:big.csv")
    assert outcome.present == emails[:3] and outcome.suppressed == emails[-1:]
    assert outcome.added == emails[3:-1]
    assert store.count_members("l") == {
        MemberStatus.PENDING: 3,
        MemberStatus.ACTIVE: 32_996,
        MemberStatus.UNSUBSCRIBED: 0,
    }


def test_listing_pages_through_in_email_order(make_store: Callable[..., Store]) -> None:
    store = make_store(page_size=7)
    emails = [f"user{i:03d}@example.com" for i in range(40)]
    store.add_members([(e, None) for e in emails[:25]], "l", status=MemberStatus.ACTIVE, source="t")
    store.add_members([(e, None) for e in emails[25:]], "l", status=MemberStatus.PENDING, source="t")
    store.suppress(emails[3], "manual", "cli")
    store.suppress(emails[30], "manual", "cli")
    assert [m.email for m in store.members("l")] == emails
    assert [m.email for m in store.members("l", MemberStatus.PENDING)] == emails[25:]
    assert [r.email for r in store.active_recipients("l")] == [e for e in emails[:25] if e != emails[3]]
    assert store.count_members("l")[MemberStatus.ACTIVE] == 25
    assert list(store.members("empty")) == []


def test_remove_keeps_a_trace_in_the_consent_log(any_store: Store) -> None:
    subscriptions.subscribe(any_store, None, A, "sglang", source="cli", confirmed=True)
    assert any_store.remove_member(A, "sglang", source="cli")
    assert not any_store.remove_member(A, "sglang", source="cli")
    assert any_store.get_member(A, "sglang") is None
    assert [e["action"] for e in any_store.person(A)["consent_log"]] == ["added", "removed"]


def test_forget_exports_then_erases_all_but_a_hashed_suppression(any_store: Store, clock: FakeClock) -> None:
    subscriptions.subscribe(any_store, None, A, "sglang", name="Ada", source="cli", confirmed=True)
    subscriptions.subscribe(any_store, _tokens(clock), A, "other", source="web")
    subscriptions.subscribe(any_store, None, B, "sglang", source="cli", confirmed=True)
    assert any_store.claim("sglang/2026-01-13", A, "r1", lease_seconds=60)
    any_store.record_soft_bounce(A, clock())
    any_store.suppress(A, "complained", "ses")
    written: list[str] = []
    deleted = subscriptions.forget(any_store, "ADA@example.com", written.append)
    exported = __import__("json").loads(written[0])
    assert exported["email"] == A and exported["profile"]["name"] == "Ada"
    assert [m["list_id"] for m in exported["memberships"]] == ["other", "sglang"]
    assert exported["suppression"]["reason"] == "complained"
    assert len(exported["consent_log"]) == 3 and len(exported["soft_bounces"]) == 1
    assert exported["send_ledger"][0]["issue_id"] == "sglang/2026-01-13"
    assert deleted >= 7
    after = any_store.person(A)
    assert after["profile"] is None and after["memberships"] == [] and after["consent_log"] == []
    assert after["soft_bounces"] == [] and after["send_ledger"] == []
    assert after["suppression"]["reason"] == "complained"  # still never mailed again
    assert any_store.get_member(A, "sglang") is None and any_store.get_member(B, "sglang")
    again = any_store.add_members([(A, None)], "sglang", status=MemberStatus.ACTIVE, source="import:old.csv")
    assert again.suppressed == [A]


def test_failing_export_erases_nothing(any_store: Store) -> None:
    subscriptions.subscribe(any_store, None, A, "sglang", source="cli", confirmed=True)

    def broken(_: str) -> None:
        raise InputError("disk full")

    with pytest.raises(InputError):
        subscriptions.forget(any_store, A, broken)
    assert any_store.get_member(A, "sglang")


# --- configuration ------------------------------------------------------------------------------------


def test_open_store_parses_the_url(tmp_path, moto_endpoint: str) -> None:  # type: ignore[no-untyped-def]
    base = Settings.from_env({"NEWSLETTER_DATA_DIR": str(tmp_path)})
    store = open_store(base)
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "newsletter.db"
    relative = open_store(Settings.from_env({"NEWSLETTER_STORE": f"sqlite:///{tmp_path}/x/s.db"}))
    assert isinstance(relative, SqliteStore) and relative.path == tmp_path / "x" / "s.db"
    env = {"NEWSLETTER_STORE": "dynamodb://prod-digest", "AWS_ENDPOINT_URL": moto_endpoint, "AWS_REGION": "eu-west-1"}
    dynamo = open_store(Settings.from_env(env))
    assert isinstance(dynamo, DynamoStore) and dynamo.table == "prod-digest-store"
    for url in ("mysql://x", "dynamodb://", "dynamodb://bad name"):
        with pytest.raises(ConfigError):
            open_store(Settings.from_env({"NEWSLETTER_STORE": url}))


def test_dynamodb_without_init_says_what_to_do(moto_endpoint: str) -> None:
    store = DynamoStore("never-created", region="us-east-1", endpoint_url=moto_endpoint)
    with pytest.raises(Exception, match="run `newsletter store init`"):
        store.get_member(A, "sglang")
    assert store.init() == ["never-created-store: created (pk/sk, index gsi1)"]
    assert store.init() == ["never-created-store: exists"]
    assert store.get_member(A, "sglang") is None


# --- the web's consent flows, as one library call each -----------------------------------------------


def test_request_subscription_mails_one_confirmation_and_tells_nothing(
    any_store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    tokens = _tokens(clock)
    outbox = OutboxSender(tmp_path / "outbox")
    # The real in-process mailer; join() waits until what was handed over is sent (it goes after the answer).
    mailer = PacedMailer(lambda c: outbox.send(c.raw, sender=c.sender, recipient=c.recipient), Pace(None))
    digest = mailing_list()
    done = subscriptions.request_subscription(
        any_store, tokens, mailer, digest, " Ada@Example.COM ", public_url="https://x.test/", name="Ada", source="web"
    )
    assert done and done.email == A and done.transition.after == MemberStatus.PENDING
    mailer.join()
    [mail] = list(outbox.folder.glob("*.eml"))
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    assert message["To"] == A and message["From"] == digest.sender
    link = f"https://x.test/confirm?token={done.token}"
    assert link in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # asked again while pending: no second mail within the confirmation window (one per address), still pending
    again = subscriptions.request_subscription(
        any_store, tokens, mailer, digest, A, public_url="https://x.test", source="web"
    )
    mailer.join()
    assert again and not again.transition.changed and len(list(outbox.folder.glob("*.eml"))) == 1
    # after the window: a second confirmation (the first may be lost)
    clock.advance(subscriptions.CONFIRMATION_WINDOW.total_seconds())
    later = subscriptions.request_subscription(
        any_store, tokens, mailer, digest, A, public_url="https://x.test", source="web"
    )
    mailer.join()
    assert later and not later.transition.changed and len(list(outbox.folder.glob("*.eml"))) == 2
    # a suppressed address: no mail, no change, no error (the caller answers as for anyone)
    any_store.suppress(B, "complained", "ses")
    assert (
        subscriptions.request_subscription(any_store, tokens, mailer, digest, B, public_url="x", source="web") is None
    )
    mailer.join()
    assert len(list(outbox.folder.glob("*.eml"))) == 2 and any_store.get_member(B, digest.id) is None
    with pytest.raises(InputError, match="invalid address"):
        subscriptions.request_subscription(
            any_store, tokens, mailer, digest, "not-an-address", public_url="x", source="web"
        )
    mailer.close()


def test_preferences_reads_and_sets_every_offered_list(any_store: Store) -> None:
    subscriptions.subscribe(any_store, None, A, "sglang", source="cli", confirmed=True)
    subscriptions.subscribe(any_store, None, A, "retired", source="cli", confirmed=True)
    offered = ["sglang", "vllm", "torch"]
    assert subscriptions.preferences(any_store, A, offered, source="web") == {
        "sglang": True,
        "vllm": False,
        "torch": False,
    }
    saved = subscriptions.preferences(any_store, A, offered, wanted=["vllm", "torch", "unknown"], source="web")
    assert saved == {"sglang": False, "vllm": False, "torch": False}  # joining waits for a confirmation link
    assert {any_store.get_member(A, i).status for i in ("vllm", "torch")} == {MemberStatus.PENDING}  # type: ignore[union-attr]
    assert any_store.get_member(A, "unknown") is None  # a name not offered is ignored
    member = any_store.get_member(A, "retired")
    assert member and member.status == MemberStatus.ACTIVE  # lists not offered are untouched
    assert subscriptions.preferences(any_store, A, offered, wanted=[], source="web") == dict.fromkeys(offered, False)
