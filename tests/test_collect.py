"""`newsletter collect` end to end: the real CLI, PyGithub and feedparser against FakeGitHub on loopback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from newsletter.cli import app
from tests.fakes.github import FakeGitHub

CASE = Path(__file__).parent / "data" / "github" / "widgets-2026-03-08"
EXPECTED = json.loads((CASE / "case.json").read_text())
ROLES: dict[str, str] = EXPECTED["roles"]
DAY = ["acme/widgets", "--date", "2026-03-08", "--tz", "America/Los_Angeles"]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    with FakeGitHub(CASE) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        yield server


def run(*args: str, json_path: Path | None = None) -> tuple[Result, list[dict[str, Any]] | None]:
    argv = ["collect", *args] + (["--json", str(json_path)] if json_path else [])
    result = CliRunner().invoke(app, argv)
    data = json.loads(json_path.read_text()) if json_path and json_path.exists() else None
    return result, data


def shas(data: list[dict[str, Any]] | None) -> list[str]:
    assert data is not None
    return [c["sha"] for c in data[0]["commits"]]


def assert_one_line_error(result: Result, *needles: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:"), lines[0]
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]


# --------------------------------------------------------------------------------------------- the day


def test_fixture_day_gives_exactly_the_expected_commits(fake: FakeGitHub, tmp_path: Path) -> None:
    result, data = run(*DAY, json_path=tmp_path / "out.json")
    assert result.exit_code == 0, result.output
    assert shas(data) == EXPECTED["expected_shas"]
    repo = data[0]  # type: ignore[index]
    assert repo["repo"] == "acme/widgets" and repo["branch"] == "main"
    # A DST day: 23 hours, [00:00 PST, 00:00 PDT).
    assert repo["window"] == {
        "start": "2026-03-08T08:00:00Z",
        "end": "2026-03-09T07:00:00Z",
        "timezone": "America/Los_Angeles",
    }
    by_sha = {c["sha"]: c for c in repo["commits"]}
    assert ROLES["dst_trap_after_end"] not in by_sha and ROLES["at_end_excluded"] not in by_sha
    assert ROLES["at_start"] in by_sha and ROLES["rebased_authored_day_before"] in by_sha

    feature = by_sha[ROLES["pr_from_pulls_endpoint"]]
    assert feature["pr"]["number"] == 12
    assert feature["pr"]["title"] == "Add an LRU cache to the widget loader"
    assert feature["pr"]["url"] == f"{fake.web_url}/acme/widgets/pull/12"
    assert feature["author"] == {"name": "Bob Builder", "email": "bob@example.com", "login": "bob"}
    assert feature["committed_at"] == "2026-03-08T12:30:00Z" and feature["authored_at"] == "2026-03-08T12:10:00Z"
    assert (feature["additions"], feature["deletions"]) == (15, 1)
    assert feature["url"] == f"{fake.web_url}/acme/widgets/commit/{feature['sha']}"

    rename = by_sha[ROLES["pr_from_message_with_rename"]]
    assert rename["pr"] == {
        "number": 15,
        "title": "refactor: move cache helpers into widgets/cache",
        "body": None,
        "labels": [],
        "url": f"{fake.web_url}/acme/widgets/pull/15",
    }
    moved = rename["files"][0]
    assert (moved["status"], moved["path"], moved["previous_path"]) == (
        "renamed",
        "widgets/cache/helpers.py",
        "widgets/util_cache.py",
    )
    assert moved["patch"].startswith("@@ -1,5 +1,5 @@")

    binary = by_sha[ROLES["binary_file_no_github_user"]]
    assert binary["author"]["login"] is None and binary["pr"] is None
    png = next(f for f in binary["files"] if f["path"].endswith(".png"))
    assert png["patch"] is None and png["status"] == "added"

    merge = by_sha[ROLES["merge"]]
    assert merge["is_merge"] is True and merge["pr"]["number"] == 18
    assert merge["pr"]["title"] == "Cache eviction metrics"
    assert by_sha[ROLES["bot"]]["author"]["login"] == "dependabot[bot]"

    # The table: local times, author names, PR numbers, and the count.
    assert "2026-03-08 05:30:00" in result.stdout  # 12:30Z in PST
    assert "(#11)" in result.stdout and "Dana Doe" in result.stdout
    assert "7 commits in 1 repository" in result.stdout
    # One listing request, then two per commit: details and pulls. The feed came first, and was free.
    assert fake.count("commits") == 1 and fake.count("commit") == 7 and fake.count("pulls") == 7
    assert fake.requests[0].kind == "atom"


def test_github_enterprise_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with FakeGitHub(CASE, prefix="/api/v3") as server:
        monkeypatch.setenv("GITHUB_API_URL", server.api_url)
        monkeypatch.setenv("GITHUB_URL", server.web_url)
        assert server.api_url.endswith("/api/v3")
        result, data = run(*DAY, json_path=tmp_path / "out.json")
    assert result.exit_code == 0, result.output
    assert shas(data) == EXPECTED["expected_shas"]
    assert server.count("commit") == 7


def test_second_run_makes_no_detail_or_pull_request_request(fake: FakeGitHub, tmp_path: Path) -> None:
    first, data1 = run(*DAY, json_path=tmp_path / "1.json")
    assert first.exit_code == 0 and fake.count("commit", "pulls") == 14
    fake.clear_log()
    second, data2 = run(*DAY, json_path=tmp_path / "2.json")
    assert second.exit_code == 0
    assert fake.count("commit", "pulls") == 0
    assert fake.count("commits") == 1
    assert data1 == data2


def test_empty_day_sends_no_api_request(fake: FakeGitHub, tmp_path: Path) -> None:
    result, data = run(
        "acme/widgets@main", "--date", "2026-03-10", "--tz", "America/Los_Angeles", "--json", str(tmp_path / "out.json")
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out.json").read_text())[0]["commits"] == []
    assert fake.count() == 0
    assert [r.kind for r in fake.requests] == ["atom"]
    # Without a branch the default branch's feed is used, and the branch name is read from it.
    result, data = run("acme/widgets", "--date", "2026-03-10", "--tz", "UTC", json_path=tmp_path / "d.json")
    assert result.exit_code == 0 and fake.count() == 0
    assert data is not None and data[0]["branch"] == "main"


@pytest.mark.parametrize("mode", ["5xx", "reset"])
def test_a_server_failing_every_third_request_gives_the_same_output(
    fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    clean, _ = run(*DAY, json_path=tmp_path / "clean.json")
    assert clean.exit_code == 0
    monkeypatch.setenv("NEWSLETTER_DATA_DIR", str(tmp_path / "fresh"))  # no cache: every request again
    fake.fail_every, fake.fail_mode = 3, mode
    fake.clear_log()
    flaky, _ = run(*DAY, json_path=tmp_path / "flaky.json")
    assert flaky.exit_code == 0, flaky.output
    assert any(r.status in (0, 502) for r in fake.requests)
    assert (tmp_path / "flaky.json").read_bytes() == (tmp_path / "clean.json").read_bytes()


# --------------------------------------------------------------------------------------------- rate limits


def test_primary_rate_limit_resetting_soon_is_waited_for(fake: FakeGitHub, tmp_path: Path) -> None:
    # Far enough ahead that a slow start (a loaded CI machine) still meets the limit, near enough to wait for.
    fake.exhaust_rate_limit(reset_in=4)
    result, data = run(*DAY, json_path=tmp_path / "out.json")
    assert result.exit_code == 0, result.output
    assert shas(data) == EXPECTED["expected_shas"]
    assert fake.requests[1].status == 403  # after the feed: refused once, then waited for the reset
    assert "waiting" in result.stderr


def test_primary_rate_limit_resetting_late_is_one_clear_error(fake: FakeGitHub, tmp_path: Path) -> None:
    fake.exhaust_rate_limit(reset_in=3600)
    result, _ = run(*DAY, json_path=tmp_path / "out.json")
    assert_one_line_error(result, "rate limit", "--allow-degraded")
    assert not (tmp_path / "out.json").exists()
    assert fake.count() == 1  # no hammering: one refused request


def test_degraded_fallback_to_the_atom_feed(fake: FakeGitHub, tmp_path: Path) -> None:
    fake.exhaust_rate_limit(reset_in=3600)
    result, data = run(*DAY, "--allow-degraded", json_path=tmp_path / "out.json")
    assert result.exit_code == 0, result.output
    assert shas(data) == EXPECTED["expected_shas"]
    repo = data[0]  # type: ignore[index]
    assert repo["degraded"] is True and all(c["degraded"] for c in repo["commits"])
    assert "20 newest" in repo["warnings"][0]
    assert "warning:" in result.stderr and "degraded" in result.stdout
    first = repo["commits"][0]
    assert first["title"].startswith("Merge pull request #18") and first["files"] == []
    assert first["author"]["login"] == "alice"
    assert first["pr"]["number"] == 18  # read from the message, as the feed has no pull requests


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_honours_retry_after(fake: FakeGitHub, tmp_path: Path, status: int) -> None:
    fake.throttle(times=1, status=status, retry_after=1)
    result, data = run(*DAY, json_path=tmp_path / "out.json")
    assert result.exit_code == 0, result.output
    assert shas(data) == EXPECTED["expected_shas"]
    assert fake.requests[1].status == status and fake.requests[2].status == 200


def test_retry_after_beyond_a_minute_is_not_slept(fake: FakeGitHub, tmp_path: Path) -> None:
    fake.throttle(times=1, status=429, retry_after=600)
    result, _ = run(*DAY)
    assert_one_line_error(result, "rate limit")


# --------------------------------------------------------------------------------------------- options


def test_exclude_merges_and_bots(fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    everyone = set(EXPECTED["expected_shas"])
    _, data = run(*DAY, "--exclude-merges", json_path=tmp_path / "m.json")
    assert set(shas(data)) == everyone - {ROLES["merge"]}
    _, data = run(*DAY, "--exclude-bots", json_path=tmp_path / "b.json")
    assert set(shas(data)) == everyone - {ROLES["bot"]}
    monkeypatch.setenv("NEWSLETTER_BOT_LOGINS", "Carol, someone-else")
    _, data = run(*DAY, "--exclude-bots", "--exclude-merges", json_path=tmp_path / "c.json")
    assert set(shas(data)) == everyone - {ROLES["bot"], ROLES["merge"], ROLES["at_start"]}
    _, data = run(*DAY, "--include-bots", json_path=tmp_path / "i.json")
    assert set(shas(data)) == everyone


def test_since_until_window(fake: FakeGitHub, tmp_path: Path) -> None:
    result, data = run(
        "acme/widgets", "--tz", "America/Los_Angeles", "--since", "2026-03-08T12:00:00",
        "--until", "2026-03-08T16:00:00-07:00", json_path=tmp_path / "o.json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # Without an offset the time is read in --tz: noon on 2026-03-08 is already PDT (19:00Z), so the
    # 18:05Z commit is out and the 22:40Z one is in.
    assert shas(data) == [ROLES["binary_file_no_github_user"]]


# --------------------------------------------------------------------------------------------- bad input


def test_unknown_repository(fake: FakeGitHub) -> None:
    result, _ = run("acme/nothing", "--date", "2026-03-08")
    assert_one_line_error(result, "acme/nothing", "not found")


def test_unknown_branch(fake: FakeGitHub) -> None:
    result, _ = run("acme/widgets@no-such-branch", "--date", "2026-03-08")
    assert_one_line_error(result, "no-such-branch", "not found")


def test_bad_token(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeGitHub(CASE, token="the-right-one") as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("GITHUB_TOKEN", "a-wrong-one")
        result, _ = run(*DAY)
        assert_one_line_error(result, "401", "GITHUB_TOKEN")
        monkeypatch.setenv("GITHUB_TOKEN", "the-right-one")
        result, _ = run(*DAY)
        assert result.exit_code == 0
        assert server.requests[-1].headers.get("Authorization") == "token the-right-one"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["acme", "--date", "2026-03-08"], "malformed repository"),
        (["acme/widgets@", "--date", "2026-03-08"], "malformed repository"),
        (["acme/widgets", "--date", "2026-02-30"], "invalid date"),
        (["acme/widgets", "--date", "2026-03-08", "--tz", "Mars/Olympus"], "unknown timezone"),
        (["acme/widgets", "--since", "yesterday"], "invalid time"),
        (["acme/widgets", "--since", "2026-03-09", "--until", "2026-03-08"], "empty window"),
    ],
)
def test_bad_input_is_one_line(fake: FakeGitHub, args: list[str], needle: str) -> None:
    result, _ = run(*args)
    assert_one_line_error(result, needle)
    assert fake.requests == []


def test_network_down(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("GITHUB_URL", f"http://127.0.0.1:{port}")
    result, _ = run(*DAY)
    assert_one_line_error(result, "cannot reach GitHub", "refused")
