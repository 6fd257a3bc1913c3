"""The public endpoints under hostile input, over real HTTP: the ``http`` Lambda handler behind the local adapter,
the SQLite store, confirmations through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import logging
import os
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from newsletter import subscriptions
from newsletter.aws import handlers
from newsletter.aws.local import serve
from newsletter.aws.runtime import runtime
from newsletter.backends import open_store
from newsletter.config import Settings
from newsletter.store.base import MemberStatus
from newsletter.subscriptions import Tokens
from tests.aws_stack import LIST_TOML, SECRET
from tests.fakes.smtp_sink import SmtpSink


@dataclass
class Site:
    url: str
    sink: SmtpSink


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    lists = tmp_path / "subscribers"
    lists.mkdir()
    (lists / "widgets.toml").write_text(LIST_TOML, encoding="utf-8")
    server = serve(handlers.http)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    with SmtpSink() as sink:
        for name, value in {
            "NEWSLETTER_LISTS_DIR": str(lists),
            "NEWSLETTER_SECRET": SECRET,
            "NEWSLETTER_PUBLIC_URL": url,
            "NEWSLETTER_DELIVERY": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(sink.port),
            "SMTP_TLS": "none",
        }.items():
            monkeypatch.setenv(name, value)
        try:
            yield Site(url, sink)
        finally:
            server.shutdown()


def mailed() -> None:
    """Wait until the confirmations the requests so far handed over are sent (they go after the answer)."""
    runtime(os.environ).confirmations.join()


def post(url: str, form: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=urlencode(form).encode(), method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_confirmation_mail_has_crlf_line_ends_and_the_form_answers_alike_whatever_happened(site: Site) -> None:
    """A strict SMTP server (aiosmtpd) takes the confirmation (bare LF made it answer 500), and the subscribe
    form's answer does not tell a stranger whether the address is new, subscribed, suppressed or undeliverable."""
    store = open_store(Settings.from_env())
    store.add_members([("member@example.org", None)], "widgets", status=MemberStatus.ACTIVE, source="test")
    store.suppress("blocked@example.org", "complained", "test")
    site.sink.refuse("nobody@example.org", "550 5.1.1 No such user")

    answers = {
        who: post(f"{site.url}/subscribe", {"list": "widgets", "email": who})
        for who in ("new@example.org", "member@example.org", "blocked@example.org", "nobody@example.org")
    }
    mailed()
    (mail,) = site.sink.received
    assert mail.rcpt_tos == ["new@example.org"]
    assert b"\n" not in mail.data.replace(b"\r\n", b"")  # CRLF only
    assert len(set(answers.values())) == 1, {k: v[0] for k, v in answers.items()}
    assert answers["new@example.org"][0] == 202


def test_every_confirmation_message_is_built_with_crlf_line_ends() -> None:
    """Whatever carries it (SMTP, SES, the outbox's .eml), the message itself is CRLF: strict servers refuse bare
    LF (SMTP smuggling protection), and an IDN domain is written in its ASCII form."""
    from newsletter.deliver.confirmation import confirmation_message
    from tests.deliver_support import mailing_list

    for language in ("en", "zh-CN"):
        ml = mailing_list().model_copy(update={"language": language})
        raw = confirmation_message(ml, "anna@müller.de", "https://news.example.com/confirm?token=abc")
        assert b"\n" not in raw.replace(b"\r\n", b"")
        assert b"To: anna@xn--mller-kva.de\r\n" in raw


def test_json_nested_thousands_deep_is_a_400_not_a_crash(site: Site) -> None:
    body = ('{"email": ' + "[" * 5000 + "]" * 5000 + ', "list": "widgets"}').encode()
    request = urllib.request.Request(f"{site.url}/subscribe", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=30)
    assert answer.value.code == 400


@pytest.mark.parametrize(("length", "status"), [("-5", 400), ("abc", 400), ("1e3", 400), ("99999999999999999999", 413)])
def test_the_local_server_answers_at_once_to_a_bad_content_length(site: Site, length: str, status: int) -> None:
    host, port = site.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        head = f"POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        conn.sendall(head.encode() + b"email=a")
        reply = b""
        while chunk := conn.recv(4096):
            reply += chunk
    assert reply.split(b" ", 2)[1] == str(status).encode(), reply[:80]


def test_an_anonymous_subscribe_never_renames_a_reader_and_a_new_name_waits_for_confirmation(site: Site) -> None:
    store = open_store(Settings.from_env())
    # Ada reads another list; a stranger subscribes her address to this one with a name of their choosing.
    store.add_members([("ada@example.org", "Ada")], "other", status=MemberStatus.ACTIVE, source="test")
    evil = "URGENT: verify your account at evil.example"
    assert post(f"{site.url}/subscribe", {"list": "widgets", "email": "ada@example.org", "name": evil})[0] == 202
    assert post(f"{site.url}/subscribe", {"list": "widgets", "email": "bob@example.org", "name": "Bob"})[0] == 202
    member = store.get_member("ada@example.org", "other")
    assert member is not None and member.name == "Ada"
    pending = store.get_member("bob@example.org", "widgets")
    assert pending is not None and pending.status == MemberStatus.PENDING and pending.name is None

    mailed()
    mail = next(m for m in site.sink.received if m.rcpt_tos == ["bob@example.org"])
    body = email.message_from_bytes(mail.data, policy=email.policy.default).get_body(("plain",)).get_content()
    link = next(word for word in body.split() if "/confirm?token=" in word)
    with urllib.request.urlopen(link, timeout=30) as answer:
        assert answer.status == 200
    confirmed = store.get_member("bob@example.org", "widgets")
    assert confirmed is not None and confirmed.status == MemberStatus.ACTIVE and confirmed.name == "Bob"


# ------------------------------------------------------------------------------------------------ consent


def _tokens() -> Tokens:
    return Tokens(SECRET)


def test_opening_the_unsubscribe_link_only_asks_and_the_button_or_one_click_unsubscribes(site: Site) -> None:
    store = open_store(Settings.from_env())
    store.add_members([("ada@example.org", None)], "widgets", status=MemberStatus.ACTIVE, source="test")
    token = _tokens().make("unsubscribe", "ada@example.org", "widgets")
    with urllib.request.urlopen(f"{site.url}/unsubscribe?token={token}", timeout=30) as answer:  # a mail scanner
        assert answer.status == 200 and 'name="confirm"' in answer.read().decode()
    assert store.get_member("ada@example.org", "widgets").status == MemberStatus.ACTIVE
    status, body = post(f"{site.url}/unsubscribe?token={token}", {"List-Unsubscribe": "One-Click"})
    assert (status, body) == (200, "unsubscribed\n")
    assert store.get_member("ada@example.org", "widgets").status == MemberStatus.UNSUBSCRIBED


def test_an_old_link_cannot_undo_an_unsubscribe_made_elsewhere(site: Site) -> None:
    """Someone who left by the CLI (or asked an operator) is not brought back by "undo=1" on an old link."""
    store = open_store(Settings.from_env())
    store.add_members([("ada@example.org", None)], "widgets", status=MemberStatus.ACTIVE, source="test")
    subscriptions.unsubscribe(store, "ada@example.org", "widgets", source="cli")
    token = _tokens().make("unsubscribe", "ada@example.org", "widgets")
    status, _ = post(f"{site.url}/unsubscribe?token={token}", {"undo": "1"})
    assert status == 400
    assert store.get_member("ada@example.org", "widgets").status == MemberStatus.UNSUBSCRIBED


def test_undo_restores_what_was_before_and_only_while_nothing_changed_since(site: Site) -> None:
    store = open_store(Settings.from_env())
    store.add_members([("pat@example.org", None)], "widgets", status=MemberStatus.PENDING, source="test")
    store.add_members([("ada@example.org", None)], "widgets", status=MemberStatus.ACTIVE, source="test")

    def leave(address: str) -> str:
        token = _tokens().make("unsubscribe", address, "widgets")
        status, body = post(f"{site.url}/unsubscribe?token={token}", {"confirm": "1"})
        assert status == 200 and store.get_member(address, "widgets").status == MemberStatus.UNSUBSCRIBED
        return re.search(r'name="undo" value="([^"]+)"', body).group(1)

    # A pending member who unsubscribes and undoes is pending again: undo never confirms.
    assert post(f"{site.url}/unsubscribe", {"undo": leave("pat@example.org")})[0] == 200
    assert store.get_member("pat@example.org", "widgets").status == MemberStatus.PENDING
    # A change after the web unsubscribe (here the operator's) voids its undo.
    undo = leave("ada@example.org")
    subscriptions.unsubscribe(store, "ada@example.org", "widgets", source="cli")  # no change: already out
    store.transition(
        "ada@example.org",
        "widgets",
        MemberStatus.PENDING,
        allowed_from=frozenset({MemberStatus.UNSUBSCRIBED}),
        action="subscribed",
        source="cli",
    )
    subscriptions.unsubscribe(store, "ada@example.org", "widgets", source="cli")
    assert post(f"{site.url}/unsubscribe", {"undo": undo})[0] == 400
    assert store.get_member("ada@example.org", "widgets").status == MemberStatus.UNSUBSCRIBED


def test_joining_from_preferences_needs_confirmation_and_a_forgotten_person_stays_forgotten(
    site: Site, tmp_path: Path
) -> None:
    store = open_store(Settings.from_env())
    store.add_members([("ada@example.org", None)], "widgets", status=MemberStatus.ACTIVE, source="test")
    prefs = _tokens().make("preferences", "ada@example.org", "widgets")
    subscriptions.unsubscribe(store, "ada@example.org", "widgets", source="cli")
    status, _ = post(f"{site.url}/preferences?token={prefs}", {"lists": "widgets"})
    assert status == 200
    assert store.get_member("ada@example.org", "widgets").status == MemberStatus.PENDING  # not active
    mailed()
    (mail,) = site.sink.received
    assert mail.rcpt_tos == ["ada@example.org"] and b"confirm" in mail.data

    subscriptions.forget(store, "ada@example.org", lambda _text: None)
    status, _ = post(f"{site.url}/preferences?token={prefs}", {"lists": "widgets"})
    assert status == 400
    assert store.get_member("ada@example.org", "widgets") is None
    assert store.person("ada@example.org").get("memberships") in (None, [])


@pytest.mark.parametrize("fault", ["a bad list file", "no public URL"])
def test_one_click_unsubscribe_works_with_a_broken_list_folder_or_no_public_url(
    site: Site, fault: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(Settings.from_env())
    store.add_members([("ada@example.org", None)], "widgets", status=MemberStatus.ACTIVE, source="test")
    if fault == "a bad list file":
        lists = Path(Settings.from_env().lists_dir)
        (lists / "broken.toml").write_text("title = \n", encoding="utf-8")
    else:
        monkeypatch.delenv("NEWSLETTER_PUBLIC_URL")
    token = _tokens().make("unsubscribe", "ada@example.org", "widgets")
    assert post(f"{site.url}/unsubscribe?token={token}", {"List-Unsubscribe": "One-Click"}) == (200, "unsubscribed\n")
    assert store.get_member("ada@example.org", "widgets").status == MemberStatus.UNSUBSCRIBED


# ------------------------------------------------------------------------------------------------ what is kept


def test_no_address_reaches_the_logs(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    """A refused subscribe (suppressed), a confirmation the server refused, a tampered link: the logs carry an
    opaque id for each address, which `forget` need not reach."""
    from newsletter.logs import address_id

    store = open_store(Settings.from_env())
    store.suppress("blocked@example.org", "complained", "test")
    site.sink.refuse("nobody@example.org", "550 5.1.1 No such user")
    caplog.set_level(logging.DEBUG)
    for who in ("blocked@example.org", "nobody@example.org", "Fresh.Person@Example.org"):
        assert post(f"{site.url}/subscribe", {"list": "widgets", "email": who})[0] == 202
    mailed()
    # Ours only: the SMTP server of the test logs what it receives.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("newsletter"))
    assert "is suppressed" in logged and "not sent" in logged  # the lines are there …
    assert "@example.org" not in logged.lower()  # … without the addresses
    assert address_id("blocked@example.org") in logged


def test_forget_leaves_no_trace_of_the_address_in_the_sqlite_file(tmp_path: Path) -> None:
    from newsletter.store.sqlite import SqliteStore

    path = tmp_path / "forget.db"
    store = SqliteStore(path)
    people = [(f"reader{i}@example.org", f"Reader {i}") for i in range(50)]
    store.add_members(
        [*people, ("ada.lovelace@example.org", "Ada Lovelace")], "widgets", status=MemberStatus.ACTIVE, source="t"
    )
    subscriptions.forget(store, "ada.lovelace@example.org", lambda _text: None)
    store.close()
    data = b"".join(p.read_bytes() for p in tmp_path.glob("forget.db*"))
    assert b"ada.lovelace@example.org" not in data and b"Ada Lovelace" not in data
    assert b"reader7@example.org" in data


def test_twenty_subscribe_requests_for_one_address_send_one_confirmation(site: Site) -> None:
    answers = {post(f"{site.url}/subscribe", {"list": "widgets", "email": "victim@example.org"}) for _ in range(20)}
    assert len(answers) == 1  # every request gets the same answer
    mailed()
    assert [m.rcpt_tos for m in site.sink.received] == [["victim@example.org"]]


def test_the_confirmation_window_is_shared_through_the_store(any_store: object, clock: object) -> None:
    """Both backends: the slot is taken atomically, once per window, whoever asks (another Lambda, another run)."""
    from datetime import timedelta

    store = any_store
    assert store.take_slot("confirm:abc", 600) is True  # type: ignore[attr-defined]
    assert store.take_slot("confirm:abc", 600) is False  # type: ignore[attr-defined]
    assert store.take_slot("confirm:other", 600) is True  # type: ignore[attr-defined]
    clock.advance(timedelta(minutes=10).total_seconds())  # type: ignore[attr-defined]
    assert store.take_slot("confirm:abc", 600) is True  # type: ignore[attr-defined]
