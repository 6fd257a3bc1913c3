"""Bad input from a person, a server or the environment: one line on stderr, a non-zero exit, nothing changed."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from newsletter.cli import app
from tests.fakes.github import FakeGitHub
from tests.fakes.openai import FakeOpenAI


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def assert_one_line(result: Result, *fragments: str, code: int | None = None) -> None:
    """The command stopped with an expected error: no traceback, exactly one line on stderr."""
    assert isinstance(result.exception, SystemExit), result.exception  # an uncaught exception is a traceback
    assert result.exit_code != 0
    if code is not None:
        assert result.exit_code == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("GITHUB_API_URL", "notaurl", "is not an http(s) URL"),
        ("GITHUB_URL", "github.com", "is not an http(s) URL"),
        ("OPENAI_BASE_URL", "ftp://models.example.com/v1", "is not an http(s) URL"),
        ("AWS_ENDPOINT_URL", "notaurl", "is not an http(s) URL"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:99999", "has an invalid port"),
    ],
)
def test_a_url_setting_that_is_not_a_url_is_one_line(
    name: str, value: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    monkeypatch.setenv("NEWSLETTER_STORE", "dynamodb://digest")
    assert_one_line(cli("collect", "acme/widgets", "--date", "2026-03-08"), name, problem, code=2)
    assert_one_line(cli("lists"), name, problem, code=2)


CASE = Path(__file__).parent / "data" / "github" / "widgets-2026-03-08"
DAY = ["acme/widgets", "--date", "2026-03-08", "--tz", "America/Los_Angeles"]


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    with FakeGitHub(CASE) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        yield server


@pytest.mark.parametrize("misbehave", ["html", "invalid_json", "no_choices"])
def test_build_against_a_server_that_is_not_openai_is_one_line(
    misbehave: str, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with FakeOpenAI(misbehave=misbehave) as fake:
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
        out = tmp_path / "issue.md"
        result = cli("build", *DAY, "--out", str(out))
    assert_one_line(result, "did not answer like an OpenAI-compatible server", "OPENAI_BASE_URL")
    assert not out.exists()


@pytest.mark.parametrize("misbehave", ["html", "invalid_json", "wrong_shape"])
@pytest.mark.parametrize("spec", ["acme/widgets", "acme/widgets@main"])
def test_collect_from_a_server_that_is_not_github_is_one_line(
    misbehave: str, spec: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeGitHub(CASE, misbehave=misbehave) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        result = cli("collect", spec, *DAY[1:])
    assert_one_line(result, "did not answer like the GitHub API", "GITHUB_API_URL")


def test_a_commit_gone_between_list_and_details_is_left_out_with_a_warning(github: FakeGitHub, tmp_path: Path) -> None:
    expected = json.loads((CASE / "case.json").read_text())["expected_shas"]
    github.forget(expected[2])
    out = tmp_path / "day.json"
    result = cli("collect", *DAY, "--json", str(out))
    assert result.exit_code == 0, result.output
    assert f"commit {expected[2][:7]} was listed but is gone" in result.stderr
    shas = [c["sha"] for c in json.loads(out.read_text())[0]["commits"]]
    assert sorted(shas) == sorted(set(expected) - {expected[2]})


@pytest.mark.parametrize("feed", ["missing", "garbage"])
def test_degraded_without_a_usable_feed_says_why_both_failed(
    feed: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = tmp_path / "case"
    shutil.copytree(CASE, case)
    for atom in (case / "atom").rglob("*.atom"):
        if feed == "missing":
            atom.unlink()
        else:
            atom.write_text("this is not an Atom feed <<< &&&", encoding="utf-8")
    with FakeGitHub(case) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        server.exhaust_rate_limit(reset_in=3600)
        result = cli("collect", *DAY, "--allow-degraded")
    problem = "no Atom feed" if feed == "missing" else "not valid XML"
    assert_one_line(result, "rate limit is exhausted", "the Atom fallback failed too", problem, "GITHUB_TOKEN")


def test_collect_json_to_a_folder_is_one_line_and_leaves_nothing_behind(github: FakeGitHub, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    assert_one_line(cli("collect", *DAY, "--json", str(folder)), f"cannot write {folder}", code=2)
    assert folder.is_dir() and not (tmp_path / "out.tmp").exists()  # nothing left beside it
    blocked = tmp_path / "out" / "file"
    blocked.write_text("x")
    assert_one_line(cli("collect", *DAY, "--json", str(blocked / "day.json")), "cannot write", code=2)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"notificationType": "Bounce", "bounce": {"bounceType": "Transient"}, "mail": "x"}, "mail is not an object"),
        (
            {
                "notificationType": "Bounce",
                "bounce": {
                    "bounceType": "Permanent",
                    "feedbackId": ["x"],
                    "bouncedRecipients": [{"emailAddress": "z@example.com"}],
                },
            },
            "feedbackId is not a string",
        ),
        (
            {"notificationType": "Bounce", "bounce": {"bounceType": "Permanent", "bouncedRecipients": "z@example.com"}},
            "bouncedRecipients is not a list",
        ),
        (
            {"notificationType": "Complaint", "complaint": {"complainedRecipients": {"emailAddress": "z@example.com"}}},
            "complainedRecipients is not a list",
        ),
        (
            {"notificationType": "Bounce", "bounce": {"bounceType": "Transient", "bouncedRecipients": 5}},
            "bouncedRecipients is not a list",
        ),
    ],
)
def test_events_of_the_wrong_shape_are_one_line_and_change_nothing(
    document: dict[str, object], problem: str, tmp_path: Path
) -> None:
    from newsletter.backends import open_store
    from newsletter.config import Settings

    source = tmp_path / "events.json"
    source.write_text(json.dumps(document), encoding="utf-8")
    assert_one_line(cli("events", "ingest", str(source)), problem, code=2)
    settings = Settings.from_env()
    store = open_store(settings)
    assert not store.is_suppressed("z@example.com")
    store.close()
    # Not recorded as seen either: the same notification, sent again well formed, still counts.
    with sqlite3.connect(settings.data_dir / "newsletter.db") as db:
        assert db.execute("SELECT count(*) FROM notifications").fetchone() == (0,)


def test_event_ids_are_printed_as_they_are(tmp_path: Path) -> None:
    inner = {"notificationType": "Delivery", "delivery": {}}
    document = {"Type": "Notification", "MessageId": "[b]x[/b]:m:", "Message": json.dumps(inner)}
    source = tmp_path / "events.json"
    source.write_text(json.dumps(document), encoding="utf-8")
    result = cli("events", "ingest", str(source))
    assert result.exit_code == 0 and "Delivery [b]x[/b]:m:: noted" in result.stdout, result.stdout


def test_preview_serve_port_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    result = cli("preview", "--sample", "--serve", "99999", "-o", str(tmp_path / "pv"))
    assert isinstance(result.exception, SystemExit) and result.exit_code == 2, result.exception
    assert "65535" in result.output and not (tmp_path / "pv").exists()  # refused before any work


def test_a_folder_named_like_a_list_file_is_not_a_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lists = tmp_path / "lists"
    (lists / "odd.toml").mkdir(parents=True)
    monkeypatch.setenv("NEWSLETTER_LISTS_DIR", str(lists))
    result = cli("lists")
    assert result.exit_code == 0 and "no lists in" in result.stdout, result.output
    assert_one_line(cli("send", "odd"), "unknown list 'odd'", "known lists: none", code=2)


def test_collect_help_shows_the_bot_suffix() -> None:
    result = CliRunner().invoke(app, ["collect", "--help"], env={"COLUMNS": "200"})
    assert "Leave out [bot] authors" in result.stdout
