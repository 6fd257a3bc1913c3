"""Campaigns against SES (moto server on loopback, behind a throttling proxy) and SMTP (aiosmtpd):
every recipient exactly once, at the configured rate, resumable after a SIGKILL."""

from __future__ import annotations

import email
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from email import policy
from pathlib import Path

import pytest

from newsletter import lifecycle
from newsletter.backends import open_archive, open_store
from newsletter.config import Settings
from newsletter.deliver.service import deliver
from newsletter.deliver.ses import SesSender
from newsletter.deliver.smtp import SmtpSender
from newsletter.deliver.status import send_status
from newsletter.errors import DeliveryError
from newsletter.store.base import LedgerState
from newsletter.store.common import email_hash
from newsletter.subscriptions import Tokens
from tests.deliver_support import DAY, SECRET, mailing_list, seed, sendable, write_list
from tests.fakes.ses import SesProxy, moto_ses, raw_messages
from tests.fakes.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parents[1]
RATE = 500.0


def _settings(**changes: object) -> Settings:
    return Settings.from_env().model_copy(
        update={"send_rate": RATE, "public_url": "https://news.example.com", **changes}
    )


def _recipients(message: dict) -> set[str]:
    return set(message["destinations"])


def _check_messages(messages: list[dict], expected: list[str]) -> None:
    """Exactly one message per expected recipient, each its own, with its own token and both headers."""
    assert len(messages) == len(expected)
    tokens = set()
    per_recipient: Counter[str] = Counter()
    for item in messages:
        (recipient,) = _recipients(item)
        per_recipient[recipient] += 1
        message = email.message_from_string(item["raw_data"], policy=policy.default)
        assert not message.defects
        assert str(message["To"]) == recipient
        assert message.get_content_type() == "multipart/alternative"
        https, mailto = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
        assert https.startswith("https://news.example.com/unsubscribe?token=") and mailto.startswith("mailto:")
        assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
        token = https.split("token=", 1)[1]
        assert Tokens(SECRET).read(token, "unsubscribe").subject == email_hash(recipient)
        tokens.add(token)
    assert per_recipient == Counter(expected)
    assert len(tokens) == len(expected)


def test_ses_thousand_subscribers_once_each_through_throttling_never_above_the_rate() -> None:
    """Every tenth SendEmail call is answered with SES's throttling error: all 1,000 still go out, once each,
    and no one-second window holds more calls than the configured rate; a second run sends nothing."""
    store = open_store(Settings.from_env())
    emails = seed(store, 1000)
    with moto_ses() as url, SesProxy(url, throttle_every=10) as proxy:
        sender = SesSender(region="us-east-1", endpoint_url=proxy.url)
        first = deliver(
            mailing_list(), sendable(), settings=_settings(), store=store, sender=sender, tokens=Tokens(SECRET)
        )
        assert (first.sent, first.failed, first.deferred) == (1000, 0, 0)
        assert first.retries == proxy.throttled >= 100
        assert len(proxy.calls) == 1000 + proxy.throttled
        assert proxy.max_in_window(1.0) <= RATE
        _check_messages(raw_messages(url), emails)

        second = deliver(
            mailing_list(), sendable(), settings=_settings(), store=store, sender=sender, tokens=Tokens(SECRET)
        )
        assert (second.sent, second.skipped) == (0, 1000)
        assert len(raw_messages(url)) == 1000
    status = send_status(sendable().issue_id, "digest", store)
    assert status.counts["sent"] == 1000 and status.pending == 0


def test_ses_pacing_holds_a_rate_well_below_what_the_setup_can_reach() -> None:
    """At 20/s — far below what this proxy and moto reach unpaced, even on a busy machine (about 40/s) — the whole
    send takes as long as the rate says, throttled retries included, and no two-second window holds more than
    its 40 calls plus what a quarter second of scheduling delay on a loaded machine can bunch into it. Without
    the token bucket both fail (measured: 66 calls in 1.7 s)."""
    slow = 20.0
    store = open_store(Settings.from_env())
    emails = seed(store, 60)
    with moto_ses() as url, SesProxy(url, throttle_every=10) as proxy:
        sender = SesSender(region="us-east-1", endpoint_url=proxy.url)
        started = time.monotonic()
        result = deliver(
            mailing_list(),
            sendable(),
            settings=_settings(send_rate=slow),
            store=store,
            sender=sender,
            tokens=Tokens(SECRET),
        )
        elapsed = time.monotonic() - started
        assert (result.sent, result.failed, result.deferred) == (60, 0, 0)
        assert elapsed >= (len(proxy.calls) - 1) / slow
        assert proxy.max_in_window(2.0) <= slow * 2.25 + 1
        assert len({m["id"] for m in raw_messages(url)}) == len(emails)


def test_ses_rejection_is_recorded_per_recipient() -> None:
    store = open_store(Settings.from_env())
    seed(store, 3)
    with moto_ses() as url:
        sender = SesSender(region="us-east-1", endpoint_url=url)
        assert sender.max_send_rate() == 1.0  # moto's quota, through SES v1 (moto has no sesv2 GetAccount)
        unverified = mailing_list().model_copy(update={"sender": "Nobody <nobody@unverified.example>"})
        result = deliver(
            unverified, sendable(), settings=_settings(), store=store, sender=sender, tokens=Tokens(SECRET)
        )
    assert result.failed == 3 and "MessageRejected" in result.failures[0][1]
    states = {e.state for e in store.entries(sendable().issue_id)}
    assert states == {LedgerState.FAILED}


def _cli_env(tmp_path: Path, endpoint: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        NEWSLETTER_DELIVERY="ses",
        AWS_ENDPOINT_URL=endpoint,
        AWS_REGION="us-east-1",
        NEWSLETTER_SEND_RATE=str(RATE),
        NEWSLETTER_SECRET=SECRET,
        NEWSLETTER_PUBLIC_URL="https://news.example.com",
        NEWSLETTER_LISTS_DIR=str(write_list(tmp_path / "lists")),
        NEWSLETTER_SEND_CONCURRENCY="8",
        NEWSLETTER_SEND_LEASE="2",
    )
    return env


def _send(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "newsletter", "send", "digest", "--date", str(DAY), *extra]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_killed_mid_campaign_then_resumed_sends_everyone_once(tmp_path: Path) -> None:
    store = open_store(Settings.from_env())
    emails = seed(store, 1000)
    lifecycle.prepare(store, open_archive(Settings.from_env()), "digest", DAY, sendable)  # as `run` keeps it
    issue = sendable().issue_id
    with moto_ses() as url:
        with SesProxy(url, hold_after=300) as proxy:
            env = _cli_env(tmp_path, proxy.url)
            command = [sys.executable, "-m", "newsletter", "send", "digest", "--date", str(DAY)]
            child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                states = Counter(e.state for e in store.entries(issue))
                if states[LedgerState.SENT] == 300 and proxy.held == 8 and states[LedgerState.SENDING] == 8:
                    break
                assert child.poll() is None, child.communicate()
                time.sleep(0.05)
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            child.stdout.close()  # type: ignore[union-attr]
            child.stderr.close()  # type: ignore[union-attr]
            held = proxy.held
        assert len(raw_messages(url)) == 300
        # Killed with messages in flight (SENDING: between send and mark) and with recipients its workers had
        # claimed in a group but not yet handed over (RESERVED: between claim and send). Neither kind is lost
        # or sent twice below.
        assert states[LedgerState.RESERVED] > 0, states

        env = _cli_env(tmp_path, url)
        resumed = _send(env)
        assert resumed.returncode == 0, resumed.stderr
        assert f"{held} were being handed to the provider when" in resumed.stderr
        assert len(raw_messages(url)) == 1000 - held  # the ambiguous ones are not guessed

        status = subprocess.run(
            [sys.executable, "-m", "newsletter", "send-status", "digest", "--date", str(DAY)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert status.stdout.count("ambiguous: ") == held

        # The operator knows the held calls never reached SES and resends them.
        final = _send(env, "--resend-ambiguous")
        assert final.returncode == 0, final.stderr
        _check_messages(raw_messages(url), emails)

        again = _send(env)
        assert again.returncode == 0, again.stderr
        assert len(raw_messages(url)) == 1000
    assert Counter(e.state for e in store.entries(issue)) == {LedgerState.SENT: 1000}


def test_smtp_thousand_subscribers_once_and_refusals_recorded() -> None:
    store = open_store(Settings.from_env())
    emails = seed(store, 1000)
    with SmtpSink() as sink:
        sink.refuse(emails[7], "550 5.1.1 No such user")
        sender = SmtpSender("127.0.0.1", sink.port, tls="none")
        try:
            result = deliver(
                mailing_list(), sendable(), settings=_settings(), store=store, sender=sender, tokens=Tokens(SECRET)
            )
            again = deliver(
                mailing_list(), sendable(), settings=_settings(), store=store, sender=sender, tokens=Tokens(SECRET)
            )
        finally:
            sender.close()
        received = sink.received
        sessions = sink.sessions
    assert (result.sent, result.failed) == (999, 1)
    assert "550" in result.failures[0][1]
    assert (again.sent, again.skipped) == (0, 1000)
    assert Counter(r for item in received for r in item.rcpt_tos) == Counter(e for e in emails if e != emails[7])
    for item in received[:20]:
        message = email.message_from_bytes(item.data, policy=policy.default)
        assert str(message["To"]) == item.rcpt_tos[0]
        assert message["List-Unsubscribe"] and message["List-Unsubscribe-Post"]
    # Connections are reused: one SMTP session per worker, counted by the server, for 2,000 sends in two runs.
    assert 1 <= sessions <= _settings().send_concurrency


@pytest.mark.parametrize("code", ["421 4.7.0 Try again later"])
def test_smtp_transient_refusal_is_retried(code: str) -> None:
    store = open_store(Settings.from_env())
    emails = seed(store, 5)
    with SmtpSink() as sink:
        sink.refuse(emails[0], code)
        sender = SmtpSender("127.0.0.1", sink.port, tls="none")
        settings = _settings()
        from newsletter.deliver.campaign import Campaign, CampaignOptions
        from newsletter.deliver.service import factory_for

        factory = factory_for(mailing_list(), sendable(), settings=settings, tokens=Tokens(SECRET))
        # One worker: the refused recipient's connection is the one the next recipients use, so a session the
        # server closed with its 421 must not be reused (that was an extra, spurious retry).
        options = CampaignOptions(rate=RATE, concurrency=1, max_attempts=3, backoff_base=0.01)
        result = Campaign(sendable().issue_id, store, sender, factory, options).run(store.active_recipients("digest"))
        sender.close()
    assert (result.sent, result.deferred, result.failed) == (4, 1, 0)
    assert result.retries == 3
    # Released, not failed: a later run tries again.
    assert {e.email for e in store.entries(sendable().issue_id)} == set(emails[1:])


def test_smtp_sender_refused_stops_the_campaign_and_keeps_nobody_reserved() -> None:
    store = open_store(Settings.from_env())
    seed(store, 20)
    with SmtpSink() as sink:
        sink.refuse_sender("553 5.7.1 Sender address rejected: not owned by user")
        sender = SmtpSender("127.0.0.1", sink.port, tls="none")
        with pytest.raises(DeliveryError, match="refused the sender"):
            deliver(mailing_list(), sendable(), settings=_settings(), store=store, sender=sender, tokens=Tokens(SECRET))
        sender.close()
    assert {e.state for e in store.entries(sendable().issue_id)} <= {LedgerState.FAILED}
    assert not any(e.state == LedgerState.FAILED for e in store.entries(sendable().issue_id))
