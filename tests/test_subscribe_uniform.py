"""Issue 13, items 4 and 8: the subscribe form does the same work whatever the address's state, and the
confirmation mails go out after the answer, paced with NEWSLETTER_SEND_RATE (real HTTP through the local
adapter; DynamoDB through moto behind a proxy that counts its calls; a real SMTP server)."""

from __future__ import annotations

import email
import email.policy
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from newsletter.aws import handlers
from newsletter.aws.local import serve
from newsletter.aws.runtime import runtime
from newsletter.deliver.mailer import PacedMailer
from newsletter.store.base import MemberStatus
from newsletter.store.common import email_hash
from newsletter.store.dynamodb import DynamoStore
from tests.aws_stack import LIST_TOML, SECRET, http_event, make_stack
from tests.fakes.aws import RelayProxy
from tests.fakes.smtp_sink import SmtpSink

FORM = "application/x-www-form-urlencoded"
STATES = ("new", "pending", "active", "unsubscribed", "suppressed", "asked-again")


def post(url: str, form: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=urlencode(form).encode(), method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def mailer() -> PacedMailer:
    found = runtime(os.environ).confirmations
    assert isinstance(found, PacedMailer)
    return found


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    lists = tmp_path / "subscribers"
    lists.mkdir()
    (lists / "widgets.toml").write_text(LIST_TOML, encoding="utf-8")
    server = serve(handlers.http)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("NEWSLETTER_LISTS_DIR", str(lists))
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    monkeypatch.setenv("NEWSLETTER_PUBLIC_URL", url)
    try:
        yield url
    finally:
        server.shutdown()


def prepare(store: DynamoStore, state: str) -> str:
    """An address in ``state`` on the list (set up directly, not through the counting proxy)."""
    address = f"{state}@example.org"
    if state in ("pending", "active", "unsubscribed"):
        status = MemberStatus.PENDING if state == "pending" else MemberStatus.ACTIVE
        store.add_members([(address, None)], "widgets", status=status, source="test")
    if state == "unsubscribed":
        store.transition(
            address,
            "widgets",
            MemberStatus.UNSUBSCRIBED,
            allowed_from=frozenset({MemberStatus.ACTIVE}),
            action="unsubscribed",
            source="test",
        )
    if state == "suppressed":
        store.suppress(address, "complained", "test")
    if state == "asked-again":  # a confirmation went to this address a moment ago
        store.take_slot(f"confirm:{email_hash(address)}", 600)
    return address


def test_subscribe_does_the_same_store_calls_and_answers_alike_whatever_the_address_state(
    site: str, moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    direct = DynamoStore(prefix, region="us-east-1", endpoint_url=moto_endpoint)
    direct.init()
    addresses = {state: prepare(direct, state) for state in STATES}
    proxy = RelayProxy(moto_endpoint)
    monkeypatch.setenv("NEWSLETTER_STORE", f"dynamodb://{prefix}")
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    try:
        post(f"{site}/subscribe", {"list": "widgets", "email": "warm-up@example.org"})  # clients made, lists read
        mailer().join()
        seen = {}
        for state, address in addresses.items():
            proxy.calls.clear()
            handed = mailer().handed
            answer = post(f"{site}/subscribe", {"list": "widgets", "email": address})
            # the same DynamoDB calls (each a round trip), one confirmation built and handed over, one answer
            seen[state] = (answer, dict(proxy.calls), mailer().handed - handed)
    finally:
        proxy.close()
    first = seen["new"]
    assert first[0][0] == 202 and first[2] == 1, first
    for state, got in seen.items():
        assert got == first, (state, got[1:], first[1:])
    # … and only those who may get one got a confirmation (pending: asking again, outside the window, gets
    # another: the first may be lost)
    mailer().join()
    outbox = tmp_path / "data" / "outbox"
    mailed = {
        str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["To"])
        for p in outbox.glob("**/*.eml")
    }
    assert mailed == {"warm-up@example.org", *(addresses[s] for s in ("new", "pending", "unsubscribed"))}
    assert direct.get_member(addresses["suppressed"], "widgets") is None
    assert direct.get_member(addresses["active"], "widgets").status == MemberStatus.ACTIVE  # type: ignore[union-attr]


def test_a_burst_of_subscribe_requests_is_mailed_at_the_send_rate(site: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten people subscribe at once; NEWSLETTER_SEND_RATE=2: the confirmations leave one every half second,
    not as fast as the requests came (they draw on the provider quota the digest uses)."""
    rate, count = 2.0, 10
    with SmtpSink() as sink:
        for name, value in {
            "NEWSLETTER_DELIVERY": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(sink.port),
            "SMTP_TLS": "none",
            "NEWSLETTER_SEND_RATE": str(rate),
        }.items():
            monkeypatch.setenv(name, value)
        started = time.monotonic()  # the sink stamps each message with the same clock
        for i in range(count):
            assert post(f"{site}/subscribe", {"list": "widgets", "email": f"reader{i}@example.org"})[0] == 202
        mailer().join()
        times = sorted(r.at for r in sink.received)
    assert len(times) == count
    # A lower bound only (a slow machine spreads them further): no faster than the rate allows.
    assert times[-1] - started >= (count - 1) / rate, [round(t - started, 2) for t in times]


def test_on_aws_confirmations_go_through_the_send_queue_at_the_senders_share_of_the_rate(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``http`` Lambda queues every confirmation (a suppressed address's too, marked not to go) and sends
    nothing itself; ``send_batch`` sends them at NEWSLETTER_SEND_RATE / NEWSLETTER_SENDER_CONCURRENCY."""
    stack = make_stack(moto_endpoint, tmp_path, {})
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    # two sender Lambdas (the stack's): one confirmation every 2 s each, well below what moto's round trips
    # allow unpaced (about one a second on a loaded machine), so that a missing pace shows
    monkeypatch.setenv("NEWSLETTER_SEND_RATE", "1")
    readers = [f"reader{i}@{stack.domain}" for i in range(5)]
    stack.store().suppress(f"blocked@{stack.domain}", "complained", "test")
    for address in [*readers, f"blocked@{stack.domain}"]:
        body = urlencode({"list": "widgets", "email": address}).encode()
        answer = handlers.http(http_event("POST", "/subscribe", body=body, content_type=FORM), None)
        assert answer["statusCode"] == 202
    assert not stack.mails()  # nothing sent while answering
    started = time.monotonic()
    handled, _ = stack.drain(handlers.send_batch)
    elapsed = time.monotonic() - started
    assert handled == len(readers) + 1
    assert sorted(str(m["To"]) for m in stack.mails()) == readers
    assert elapsed >= (len(readers) - 1) * 2.0, elapsed  # a lower bound only: paced, not as fast as SES answers
