"""`newsletter serve` as a subprocess on loopback: the archive it serves, the access log, the same answers as the
Lambda `http` handler for the same requests, the start-up checks, and a SIGTERM in the middle of a scheduled
send (SMTP to a local aiosmtpd server) that loses and doubles nobody."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from newsletter.aws import handlers
from newsletter.deliver.smtp import SmtpSender
from newsletter.store.base import LedgerState, MemberStatus
from newsletter.store.sqlite import SqliteStore
from newsletter.subscriptions import Tokens
from tests.aws_stack import LIST_TOML, SECRET, http_event
from tests.fakes.github import FakeGitHub
from tests.fakes.smtp_sink import SmtpSink
from tests.serve_support import Answer, Served, free_port, request, wait_for

GITHUB = Path(__file__).resolve().parent / "data" / "github" / "widgets-2026-03-08"
READER = "ada@example.org"


@pytest.fixture
def env(tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """One list (outbox delivery), the public URL fixed up front so that the Lambda handler and the server
    build the same links, and the same variables in this process (for the handler) and the server's."""
    lists = tmp_path / "subscribers"
    lists.mkdir()
    (lists / "widgets.toml").write_text(LIST_TOML, encoding="utf-8")
    values = {
        "NEWSLETTER_DATA_DIR": str(isolated_env),
        "NEWSLETTER_LISTS_DIR": str(lists),
        "NEWSLETTER_SECRET": SECRET,
        "NEWSLETTER_PUBLIC_URL": f"http://127.0.0.1:{free_port()}",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[Served]:
    port = env["NEWSLETTER_PUBLIC_URL"].rsplit(":", 1)[1]
    with Served(env, "--port", port) as server:
        yield server


def store(env: dict[str, str]) -> SqliteStore:
    return SqliteStore(Path(env["NEWSLETTER_DATA_DIR"]) / "newsletter.db")


# ------------------------------------------------------------------------------------------ the same answers

_FORM = "application/x-www-form-urlencoded"
_TOKENS = Tokens(SECRET)
_BAD = [
    # (method, path, query, body, content type)
    ("GET", "/confirm", "", b"", None),
    ("GET", "/confirm", "token=not-a-token", b"", None),
    ("GET", "/unsubscribe", "token=" + _TOKENS.make("confirm", READER, "widgets"), b"", None),  # wrong purpose
    ("POST", "/unsubscribe", "token=" + _TOKENS.make("unsubscribe", READER, "widgets")[:-3] + "xyz",
     b"List-Unsubscribe=One-Click", _FORM),  # tampered one-click
    ("POST", "/unsubscribe", "", b"List-Unsubscribe=One-Click", _FORM),
    ("GET", "/preferences", "token=" + _TOKENS.make("unsubscribe", READER, "widgets"), b"", None),
    ("POST", "/subscribe", "", b"list=nope&email=a%40example.org", _FORM),
    ("POST", "/subscribe", "", b"list=widgets&email=%3Cscript%3Ealert(1)%3C%2Fscript%3E", _FORM),
    ("POST", "/subscribe", "", json.dumps({"list": "nope", "email": "a@example.org"}).encode(), "application/json"),
    ("POST", "/subscribe", "", json.dumps({"list": "widgets", "email": "nope"}).encode(), "application/json"),
    ("POST", "/subscribe", "", b"[1, 2]", "application/json"),
    ("POST", "/subscribe", "", b"{nope", "application/json"),
    ("POST", "/subscribe", "", b"list=widgets&email=\xff\xfe", _FORM),  # not UTF-8
    ("POST", "/subscribe", "", b"list=widgets&email=" + b"a" * 20_000, _FORM),  # over the 16 KiB a form needs
    ("GET", "/subscribe", "list=nope", b"", None),
    ("DELETE", "/subscribe", "", b"", None),
    ("GET", "/nowhere", "", b"", None),
]  # fmt: skip


def both(served: Served, method: str, path: str, query: str = "", body: bytes = b"", content_type: str | None = None,
         language: str | None = None) -> tuple[dict, Answer]:  # fmt: skip
    """The same request to the Lambda handler (API Gateway's event) and to the server (HTTP on loopback)."""
    event = http_event(method, path, query=query, body=body, content_type=content_type)
    headers = {"Content-Type": content_type} if content_type else {}
    if language:
        event["headers"]["accept-language"] = headers["Accept-Language"] = language
    lam = handlers.http(event, None)
    got = request(f"{served.url}{path}{'?' + query if query else ''}", method=method, body=body, headers=headers)
    return lam, got


def same(lam: dict, got: Answer, case: str) -> None:
    assert (got.status, got.text) == (lam["statusCode"], lam["body"]), case
    for name in ("Content-Type", "Cache-Control", "Content-Security-Policy"):
        assert got.headers[name] == lam["headers"].get(name), (case, name)


def test_bad_requests_get_the_same_answer_from_serve_as_from_the_lambda_handler(
    served: Served, env: dict[str, str]
) -> None:
    db = store(env)
    db.add_members([(READER, None)], "widgets", status=MemberStatus.ACTIVE, source="test")
    for method, path, query, body, content_type in _BAD:
        lam, got = both(served, method, path, query, body, content_type)
        case = f"{method} {path}?{query[:20]} {body[:30]!r}"
        assert 400 <= got.status < 500, case
        same(lam, got, case)
        assert "<script>alert" not in got.text and "alert(1)" not in got.text, case
    lam, got = both(served, "GET", "/nowhere", language="zh-CN,zh;q=0.9")
    same(lam, got, "404 in Chinese")
    assert got.status == 404 and 'lang="zh-CN"' in got.text
    assert db.get_member(READER, "widgets").status == MemberStatus.ACTIVE  # no bad request changed anything
    assert db.get_member("a@example.org", "widgets") is None


def test_good_requests_get_the_same_answer_and_make_the_same_change(served: Served, env: dict[str, str]) -> None:
    """Each request goes to the handler first, then to the server: the second finds the change the first made,
    and answers the same (every one of these is idempotent)."""
    db = store(env)
    db.add_members([(READER, None)], "widgets", status=MemberStatus.ACTIVE, source="test")
    unsubscribe = "token=" + _TOKENS.make("unsubscribe", READER, "widgets")
    preferences = "token=" + _TOKENS.make("preferences", READER, "widgets")
    joining = json.dumps({"list": "widgets", "email": "new@example.org"}).encode()
    for method, path, query, body, content_type, status, member in [
        ("GET", "/subscribe", "list=widgets", b"", None, 200, MemberStatus.ACTIVE),
        ("POST", "/unsubscribe", unsubscribe, b"List-Unsubscribe=One-Click", _FORM, 200, MemberStatus.UNSUBSCRIBED),
        # the old "undo=1" of an unsubscribe link no longer re-subscribes anyone (issue 13)
        ("POST", "/unsubscribe", unsubscribe, b"undo=1", _FORM, 400, MemberStatus.UNSUBSCRIBED),
        ("GET", "/unsubscribe", unsubscribe, b"", None, 200, MemberStatus.UNSUBSCRIBED),  # opening only asks
        ("GET", "/preferences", preferences, b"", None, 200, MemberStatus.UNSUBSCRIBED),
        # joining from preferences waits for a confirmation link
        ("POST", "/preferences", preferences, b"lists=widgets", _FORM, 200, MemberStatus.PENDING),
        ("POST", "/subscribe", "", joining, "application/json", 202, MemberStatus.PENDING),
    ]:  # fmt: skip
        lam, got = both(served, method, path, query, body, content_type)
        case = f"{method} {path} {body[:30]!r}"
        assert got.status == status, case
        same(lam, got, case)
        assert db.get_member(READER, "widgets").status == member, case
    assert db.get_member("new@example.org", "widgets").status == MemberStatus.PENDING
    outbox = list((Path(env["NEWSLETTER_DATA_DIR"]) / "outbox").glob("*.eml"))
    assert len(outbox) == 2  # one confirmation for each address (one per address per window)


def test_a_body_past_the_server_limit_is_refused_before_it_is_read(served: Served) -> None:
    got = request(
        f"{served.url}/subscribe", method="POST", body=b"x" * (2 * 1024 * 1024), headers={"Content-Type": _FORM}
    )
    assert got.status == 413


# ------------------------------------------------------------------------------------------ the archive


def test_the_archive_is_served_with_its_index_feed_and_twins(env: dict[str, str]) -> None:
    with FakeGitHub(GITHUB) as gh:
        built = subprocess.run(
            [sys.executable, "-m", "newsletter", "run", "--list", "widgets", "--date", "2026-03-08", "--dry-run"],
            env={**os.environ, **env, "GITHUB_API_URL": gh.api_url, "GITHUB_URL": gh.web_url},
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert built.returncode == 0, built.stderr
    port = env["NEWSLETTER_PUBLIC_URL"].rsplit(":", 1)[1]
    with Served(env, "--port", port) as served:
        root = request(f"{served.url}/")
        assert root.status == 200 and "widgets/index.html" in root.text
        bare = request(f"{served.url}/widgets")
        assert bare.status == 301 and bare.headers["Location"] == "/widgets/"
        index = request(f"{served.url}/widgets/")
        assert index.status == 200 and "2026-03-08.html" in index.text
        page = request(f"{served.url}/widgets/2026-03-08.html")
        assert page.status == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "Widgets daily" in page.text and "%%" not in page.text
        assert "script-src 'none'" in page.headers["Content-Security-Policy"]
        feed = request(f"{served.url}/widgets/feed.xml")
        assert feed.status == 200 and feed.headers["Content-Type"].startswith("application/atom+xml")
        assert "<feed" in feed.text
        text = request(f"{served.url}/widgets/2026-03-08.txt")
        assert text.status == 200 and text.headers["Content-Type"].startswith("text/plain")
        head = request(f"{served.url}/widgets/2026-03-08.html", method="HEAD")
        assert head.status == 200 and head.body == b"" and int(head.headers["Content-Length"]) == len(page.body)

        # Nothing outside the archive, nothing hidden, nothing it never writes; the endpoints' own 404 page.
        not_found = request(f"{served.url}/nowhere").text
        for path in ("/widgets/2026-03-09.html", "/../newsletter.db", "/%2e%2e/newsletter.db", "/widgets/.tmp-x",
                     "/newsletter.db", "/widgets/../../newsletter.db"):  # fmt: skip
            got = request(f"{served.url}{quote(path, safe='/%')}")
            assert (got.status, got.text) == (404, not_found), path
        # A POST to an archive path is not a file read.
        assert request(f"{served.url}/widgets/", method="POST", body=b"x").status == 404
    assert served.returncode == 0


def test_the_access_log_has_no_query_token_and_no_address(served: Served) -> None:
    token = _TOKENS.make("unsubscribe", READER, "widgets")
    request(f"{served.url}/unsubscribe?token={token}", headers={"X-Forwarded-For": "203.0.113.77"})
    request(f"{served.url}/does-not-exist?secret=abc")
    served.stop()
    access = [line for line in served.lines if "newsletter.access" in line]
    assert any('"GET /unsubscribe" 200' in line for line in access), served.output
    assert any('"GET /does-not-exist" 404' in line for line in access)
    assert token not in served.output and "secret=abc" not in served.output
    assert "203.0.113.77" not in served.output
    assert not any("127.0.0.1" in line for line in access)
    assert served.output.rstrip().endswith("stopped") and served.returncode == 0


# ------------------------------------------------------------------------------------------ start-up


def test_without_a_public_url_outbox_links_point_at_serve_and_it_says_so(env: dict[str, str]) -> None:
    del env["NEWSLETTER_PUBLIC_URL"]
    with Served({**env, "NEWSLETTER_PUBLIC_URL": ""}, "--port", "0") as served:
        assert f"links in outbox mail sent from here point at {served.url}" in served.output
        form = request(f"{served.url}/subscribe?list=widgets")
        assert f'action="{served.url}/subscribe"' in form.text
        answer = request(
            f"{served.url}/subscribe", method="POST", body=f"list=widgets&email={READER}".encode(),
            headers={"Content-Type": _FORM},
        )  # fmt: skip
        assert answer.status == 202
    outbox = list((Path(env["NEWSLETTER_DATA_DIR"]) / "outbox").glob("*.eml"))
    assert len(outbox) == 1 and f"{served.url}/confirm?token=" in outbox[0].read_text()


def test_smtp_without_a_public_url_stops_at_start_with_one_line(env: dict[str, str]) -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "newsletter", "serve", "--port", "0"],
        env={**os.environ, **env, "NEWSLETTER_PUBLIC_URL": "", "NEWSLETTER_DELIVERY": "smtp", "SMTP_HOST": "x"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 2
    assert answer.stderr.strip().splitlines() == [
        "error: delivery is smtp but NEWSLETTER_PUBLIC_URL is not set (set it to the base URL of the unsubscribe /"
        " preferences endpoints)"
    ]


def test_a_port_in_use_is_one_line(served: Served, env: dict[str, str]) -> None:
    port = env["NEWSLETTER_PUBLIC_URL"].rsplit(":", 1)[1]
    answer = subprocess.run(
        [sys.executable, "-m", "newsletter", "serve", "--port", port],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 2 and "Traceback" not in answer.stderr
    assert answer.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}")


# ------------------------------------------------------------------------------------------ SIGTERM mid-send

READERS = [f"reader{i:02d}@example.org" for i in range(40)]


def test_sigterm_during_a_scheduled_send_loses_and_doubles_nobody(env: dict[str, str], tmp_path: Path) -> None:
    """The list is due now; the scheduled send goes at 8 messages a second over SMTP. SIGTERM in the middle:
    the process exits 0 having settled every claim (nothing RESERVED or SENDING is left), the next start sends
    to exactly the readers that were not mailed, and in the end every reader got the issue once."""
    due = datetime.now(UTC) - timedelta(minutes=1)
    lists = Path(env["NEWSLETTER_LISTS_DIR"])
    toml = (
        LIST_TOML.replace('timezone = "America/Los_Angeles"', 'timezone = "UTC"')
        .replace("send_at = 08:00:00", f"send_at = {due:%H:%M}:00")
    )  # fmt: skip
    (lists / "widgets.toml").write_text(toml, encoding="utf-8")
    db = store(env)
    db.add_members([(e, None) for e in READERS], "widgets", status=MemberStatus.ACTIVE, source="test")
    with SmtpSink() as sink, FakeGitHub(GITHUB) as gh:
        run_env = {
            **env,
            "GITHUB_API_URL": gh.api_url,
            "GITHUB_URL": gh.web_url,
            "NEWSLETTER_DELIVERY": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(sink.port),
            "SMTP_TLS": "none",
            "NEWSLETTER_SEND_RATE": "8",
            "NEWSLETTER_SEND_CONCURRENCY": "3",
        }
        first = Served(run_env, "--port", "0", "--schedule", "--every", "3600")
        wait_for(lambda: len(sink.received) >= 6, 180, "the scheduled send to start")
        assert first.stop() == 0, first.output
        stopped_at = len(sink.received)
        assert stopped_at < len(READERS), "the send finished before SIGTERM: nothing was tested"
        assert "stopping" in first.output and first.output.rstrip().endswith("stopped")

        entries = list(db.entries(f"widgets/{(due.date() - timedelta(days=1)).isoformat()}"))
        states = Counter(e.state for e in entries)
        assert set(states) <= {LedgerState.SENT}, states  # nothing left claimed or in flight
        sent = {e.email for e in entries}
        received = [r.rcpt_tos[0] for r in sink.received]
        assert sorted(received) == sorted(sent)  # what the ledger says went out is exactly what arrived

        second = Served(run_env, "--port", "0", "--schedule", "--every", "3600")
        wait_for(lambda: len(sink.received) >= len(READERS), 180, "the rest of the send")
        wait_for(lambda: "sent " in second.output, 60, "the tick's summary")
        assert second.stop() == 0, second.output
        received = [r.rcpt_tos[0] for r in sink.received]
    assert Counter(received) == Counter(READERS)  # everyone once: no one lost, no one twice
    assert f"sent {len(READERS) - stopped_at}, skipped {stopped_at}" in second.output


def test_a_run_stopped_before_its_campaign_leaves_the_issue_to_the_next_run(env: dict[str, str]) -> None:
    """A stop that comes while the issue is being built: the campaign sends nothing, and the issue must not be
    marked sent (nobody was deferred or failed, yet nobody was mailed), or the next run would skip everyone."""
    from newsletter import pipeline
    from newsletter.config import Settings
    from newsletter.samples import sample_day

    repos, day, _ = sample_day()
    store(env).add_members([(e, None) for e in READERS[:3]], "widgets", status=MemberStatus.ACTIVE, source="test")
    settings = Settings.from_env()
    with pipeline.Context.open(settings) as ctx:
        ctx.stop.set()
        stopped = pipeline.run_list(ctx.mailing_list("widgets"), day, ctx, repos=repos)
    assert stopped.campaign is not None and stopped.campaign.sent == 0 and stopped.campaign.interrupted
    assert not stopped.ok
    with pipeline.Context.open(settings) as ctx:
        again = pipeline.run_list(ctx.mailing_list("widgets"), day, ctx, repos=repos)
    assert again.outcome == "delivered" and again.campaign is not None and again.campaign.sent == 3


def test_a_kept_smtp_connection_that_the_server_closed_while_idle_is_replaced() -> None:
    """A long-running server keeps one SMTP connection per thread; the SMTP server drops it after a few idle
    minutes. The next confirmation mail must go out on a new connection, not fail the subscribe page."""
    raw = b"From: digest@example.com\r\nSubject: hello\r\n\r\nhello\r\n"
    with SmtpSink(idle_timeout=0.5) as sink:
        sender = SmtpSender("127.0.0.1", sink.port, tls="none")
        try:
            sender.send(raw, sender="digest@example.com", recipient="a@example.org")
            time.sleep(1.5)  # the sink has closed the idle session
            sender.send(raw, sender="digest@example.com", recipient="b@example.org")
        finally:
            sender.close()
        assert [r.rcpt_tos for r in sink.received] == [["a@example.org"], ["b@example.org"]]


def test_a_first_try_without_a_secret_the_sample_mails_unsubscribe_link_works(env: dict[str, str]) -> None:
    """`newsletter run --sample` then `newsletter serve`, no NEWSLETTER_SECRET, no public URL, outbox only: the
    sample message's one-click link reaches serve (its default address) and unsubscribes the sample reader."""
    trial = {**env, "NEWSLETTER_SECRET": "", "NEWSLETTER_PUBLIC_URL": ""}
    sample = [sys.executable, "-m", "newsletter", "run", "--sample"]
    done = subprocess.run(sample, env={**os.environ, **trial}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (message,) = (Path(env["NEWSLETTER_DATA_DIR"]) / "outbox").glob("*.eml")
    link = re.search(r"<(http://127\.0\.0\.1:8000/unsubscribe\?token=[^>]+)>", message.read_text())
    assert link, "the sample mail's List-Unsubscribe does not point at serve's default address"
    port = free_port()  # 8000 may be taken on this machine: the same path and token, on a free port
    with Served(trial, "--port", str(port)) as served:
        assert "links are checked with this data folder's sample secret" in served.output
        one_click = link.group(1).replace(":8000/", f":{port}/")
        answer = request(one_click, method="POST", body=b"List-Unsubscribe=One-Click", headers={"Content-Type": _FORM})
        assert answer.status == 200
    assert store(env).get_member("reader@example.com", "sample").status == MemberStatus.UNSUBSCRIBED

    # Real mail still needs the secret.
    real = subprocess.run(
        [sys.executable, "-m", "newsletter", "serve", "--port", "0"],
        env={**os.environ, **trial, "NEWSLETTER_PUBLIC_URL": "https://news.example.com", "NEWSLETTER_DELIVERY": "smtp",
             "SMTP_HOST": "127.0.0.1"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert real.returncode == 2 and real.stderr.startswith("error: NEWSLETTER_SECRET is not set")
