"""Delivery under hostile input and faults: internationalised addresses, refusals, and answers lost after the
hand-over. Real SMTP (aiosmtpd) and SES (moto server behind a proxy) on loopback, the real CLI."""

from __future__ import annotations

import email
import email.policy
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from newsletter.backends import open_store
from newsletter.cli import app
from newsletter.config import Settings
from newsletter.deliver.campaign import CampaignResult
from newsletter.deliver.service import deliver
from newsletter.deliver.ses import SesSender
from newsletter.deliver.smtp import SmtpSender
from newsletter.deliver.status import send_status
from newsletter.store.base import LedgerState, MemberStatus
from newsletter.store.sqlite import SqliteStore
from newsletter.subscriptions import Tokens, normalise_email
from tests.deliver_support import SECRET, mailing_list, seed, sendable
from tests.fakes.github import FakeGitHub
from tests.fakes.ses import SesProxy, moto_ses, raw_messages
from tests.fakes.smtp_sink import SmtpSink
from tests.widgets import write_lists

DAY = "2026-03-08"
LIST_TOML = """\
title = "{title}"
repos = ["acme/widgets"]
timezone = "America/Los_Angeles"
sender = "Commit Digest <digest@example.com>"
postal_address = "1 Example Road, Springfield"
analyzer = "heuristic"
"""
REFUSED = "refused@example.org"


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _people(n_plain: int) -> tuple[list[str], list[str], list[str]]:
    """1,000 addresses as typed: plain ASCII, IDN domains (in Unicode and in their xn-- form), non-ASCII local
    parts (with ASCII and with IDN domains), and one the server refuses for good."""
    plain = [f"reader{i:03d}@example.org" for i in range(n_plain)]
    idn = [f"leser{i}@müller.de" for i in range(30)] + [f"anna{i}@xn--mller-kva.de" for i in range(20)]
    idn += [f"user{i}@例子.中国" for i in range(20)]
    local = [f"josé{i}@example.org" for i in range(30)] + [f"用户{i}@例子.中国" for i in range(19)]
    return [*plain, REFUSED], idn, local


# 1,000 readers through a server without SMTPUTF8; fewer through one with it (the same path, plus RFC 6531).
@pytest.mark.parametrize(("smtputf8", "n_plain"), [(False, 880), (True, 80)], ids=["plain-smtp", "smtputf8"])
def test_idn_and_non_ascii_addresses_and_a_refusal_fail_alone_and_the_next_list_still_goes_out(
    widgets_github: FakeGitHub,
    tmp_path: Path,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtputf8: bool,
    n_plain: int,
) -> None:
    plain, idn, local = _people(n_plain)
    assert len(plain) + len(idn) + len(local) == n_plain + 120
    db = SqliteStore(isolated_env / "newsletter.db")
    db.add_members(
        [(normalise_email(e), f"Reader {i}") for i, e in enumerate(plain + idn + local)],
        "alpha",
        status=MemberStatus.ACTIVE,
        source="test",
    )
    db.add_members([("second@example.org", None)], "beta", status=MemberStatus.ACTIVE, source="test")
    files = {list_id: LIST_TOML.format(title=list_id.title()) for list_id in ("alpha", "beta")}
    write_lists(tmp_path / "lists", monkeypatch, files)
    with SmtpSink(smtputf8=smtputf8) as sink:
        sink.refuse(REFUSED, "550 5.1.1 No such user")
        for name, value in {
            "NEWSLETTER_DELIVERY": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(sink.port),
            "SMTP_TLS": "none",
            "NEWSLETTER_PUBLIC_URL": "https://news.example.com",
        }.items():
            monkeypatch.setenv(name, value)
        done = cli("run", "--date", DAY)
        received = sink.received

    assert done.exit_code == 1, done.output  # someone failed
    assert isinstance(done.exception, SystemExit), done.exception  # an exit code, not an exception
    per_rcpt = Counter(r for item in received for r in item.rcpt_tos)
    assert set(per_rcpt.values()) == {1}  # nobody twice
    # IDN domains go out in their ASCII (IDNA) form, in the envelope and in To:.
    wire_idn = {"leser0@xn--mller-kva.de", "anna0@xn--mller-kva.de", "user0@xn--fsqu00a.xn--fiqs8s"}
    assert wire_idn <= set(per_rcpt)
    delivered = len(plain) - 1 + len(idn) + (len(local) if smtputf8 else 0)
    assert sum(per_rcpt[r] for r in per_rcpt if r != "second@example.org") == delivered
    assert per_rcpt["second@example.org"] == 1  # the second list in the same run still went out
    for item in received:
        message = email.message_from_bytes(item.data, policy=email.policy.SMTPUTF8)
        assert str(message["To"]).endswith(f"<{item.rcpt_tos[0]}>") or str(message["To"]) == item.rcpt_tos[0]
        assert b"\n" not in item.data.replace(b"\r\n", b"")

    entries = {e.email: e for e in db.entries(f"alpha/{DAY}")}
    assert entries[REFUSED].state == LedgerState.FAILED and "550" in (entries[REFUSED].reason or "")
    for address in local:
        entry = entries[normalise_email(address)]
        if smtputf8:
            assert entry.state == LedgerState.SENT
        else:
            assert entry.state == LedgerState.FAILED and "SMTPUTF8" in (entry.reason or "")
    assert {entries[normalise_email(a)].state for a in idn} == {LedgerState.SENT}
    failed = 1 + (0 if smtputf8 else len(local))
    assert f"failed {failed}" in done.stdout
    assert [e.state for e in db.entries(f"beta/{DAY}")] == [LedgerState.SENT]
    db.close()


# ------------------------------------------------------------------------------------ answers lost after hand-over


def _deliver(store: object, sender: object) -> CampaignResult:
    settings = Settings.from_env().model_copy(update={"send_rate": None, "public_url": "https://news.example.com"})
    return deliver(mailing_list(), sendable(), settings=settings, store=store, sender=sender, tokens=Tokens(SECRET))  # type: ignore[arg-type]


def test_an_smtp_server_that_answers_after_the_client_gave_up_gets_each_message_once(isolated_env: Path) -> None:
    """The server stores each message, then answers 250 only after the client's timeout: the message was handed
    over, so it is reported ambiguous, never retried, and a second run sends nothing either."""
    store = open_store(Settings.from_env())
    emails = seed(store, 3)
    with SmtpSink(reply_delay=2.0) as sink:
        sender = SmtpSender("127.0.0.1", sink.port, tls="none", timeout=0.5)
        try:
            first = _deliver(store, sender)
            time.sleep(2.0)  # the server's late answers have all come and gone
            second = _deliver(store, sender)
        finally:
            sender.close()
        received = sink.received
    assert Counter(r for item in received for r in item.rcpt_tos) == Counter(emails)  # no duplicates
    assert (first.sent, first.ambiguous, first.retries) == (0, 3, 0)
    assert (second.sent, second.ambiguous) == (0, 3)
    status = send_status(sendable().issue_id, "digest", store)
    assert len(status.ambiguous) == 3 and all("answer was lost" in (e.reason or "") for e in status.ambiguous)


def test_ses_answering_after_the_read_timeout_gets_each_message_once(isolated_env: Path) -> None:
    """SES (moto) keeps each message, but its answers arrive after botocore's read timeout: ambiguous, 0 duplicates."""
    store = open_store(Settings.from_env())
    emails = seed(store, 3)
    with moto_ses() as url, SesProxy(url, answer_delay=1.5) as proxy:
        sender = SesSender(region="us-east-1", endpoint_url=proxy.url, read_timeout=0.5)
        first = _deliver(store, sender)
        second = _deliver(store, sender)
        # moto lists a message's recipient once from the call and once from its To: header
        sent = Counter(d for m in raw_messages(url) for d in set(m["destinations"]))
    assert sent == Counter(emails)
    assert (first.sent, first.ambiguous, first.retries) == (0, 3, 0)
    assert (second.sent, second.ambiguous) == (0, 3)
    assert {e.state for e in store.entries(sendable().issue_id)} == {LedgerState.SENDING}
