"""The parts of collect one by one: window, pacer, feed parsing, pagination and concurrency, the fake itself."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from newsletter.collect import CollectOptions, collect_repos, dump_collected, load_collected
from newsletter.collect.atom import parse_feed
from newsletter.collect.github import pr_from_message
from newsletter.collect.pacing import Pacer
from newsletter.collect.window import resolve_window
from newsletter.config import Settings
from newsletter.errors import InputError
from newsletter.models import RepoSpec, Window
from newsletter.store.sqlite import SqliteStore
from tests.fakes.github import FakeGitHub, synthetic_day

CASE = Path(__file__).parent / "data" / "github" / "widgets-2026-03-08"


def test_dst_days_are_23_and_25_hours() -> None:
    spring = Window.for_day(date(2026, 3, 8), "America/Los_Angeles")
    autumn = Window.for_day(date(2026, 11, 1), "America/Los_Angeles")
    assert spring.end - spring.start == timedelta(hours=23)
    assert autumn.end - autumn.start == timedelta(hours=25)
    assert spring.start == datetime(2026, 3, 8, 8, tzinfo=UTC)


def test_resolve_window() -> None:
    now = datetime(2026, 1, 14, 3, 0, tzinfo=UTC)  # 11:00 on the 14th in Shanghai
    assert resolve_window(None, "Asia/Shanghai", now=now).local_date == date(2026, 1, 13)
    explicit = resolve_window(None, "Asia/Shanghai", since="2026-01-13T08:00", until="2026-01-13T09:30Z")
    assert explicit.start == datetime(2026, 1, 13, 0, tzinfo=UTC) and explicit.end.minute == 30
    assert resolve_window(None, "UTC", since="2026-01-13T00:00Z", now=now).end == now
    with pytest.raises(InputError, match="not both"):
        resolve_window("2026-01-13", "UTC", since="2026-01-13T00:00Z")
    with pytest.raises(InputError, match="needs --since"):
        resolve_window(None, "UTC", until="2026-01-13T00:00Z")


def test_pacer_keeps_a_rolling_minute_under_the_limit() -> None:
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    pacer = Pacer(points_per_minute=3, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        with pacer.request():
            clock[0] += 1
    assert slept == []
    with pacer.request():
        pass
    assert slept == [57.0]  # the first point (t=0) leaves the window at t=60; it is t=3
    assert pacer.requests == 4


def test_pr_from_message() -> None:
    web, repo = "https://github.com", "o/r"
    assert pr_from_message("Fix a thing (#12)\n\nbody", web=web, repo=repo).number == 12  # type: ignore[union-attr]
    merge = pr_from_message("Merge pull request #7 from a/b\n\nThe title", web=web, repo=repo)
    assert merge is not None and merge.title == "The title" and merge.url == "https://github.com/o/r/pull/7"
    assert pr_from_message("Mention #12 in passing", web=web, repo=repo) is None
    assert pr_from_message("Refs (#3) then more", web=web, repo=repo) is None


def test_parse_the_fixture_feed() -> None:
    feed = parse_feed((CASE / "atom" / "acme" / "widgets" / "commits" / "main.atom").read_bytes())
    case = json.loads((CASE / "case.json").read_text())
    assert feed.branch == "main"
    assert len(feed.entries) == case["listed_count"]
    newest = feed.entries[0]
    assert newest.sha == case["roles"]["authored_in_window_committed_after"]
    assert newest.updated == datetime(2026, 3, 9, 10, tzinfo=UTC)
    bot = next(e for e in feed.entries if e.sha == case["roles"]["bot"])
    assert bot.author_login == "dependabot[bot]" and "Signed-off-by" in bot.message
    window = Window.for_day(date(2026, 3, 8), "America/Los_Angeles")
    assert [e.sha for e in feed.in_window(window)] == case["expected_shas"]
    assert not feed.proves_empty(window) and feed.proves_empty(Window.for_day(date(2026, 3, 10), "UTC"))


def test_pagination_concurrency_and_json_roundtrip(tmp_path: Path) -> None:
    case = synthetic_day(tmp_path / "case", count=110, day=date(2026, 5, 20), tz="Asia/Shanghai")
    expected = json.loads((case / "case.json").read_text())["expected_shas"]
    with FakeGitHub(case) as fake:
        settings = Settings.from_env({**fake.env(), "NEWSLETTER_DATA_DIR": str(tmp_path)})
        store = SqliteStore(":memory:")
        window = Window.for_day(date(2026, 5, 20), "Asia/Shanghai")
        options = CollectOptions(concurrency=4)
        repos = collect_repos([RepoSpec.parse("synth/big")], window, settings=settings, cache=store, options=options)
        listing = [r for r in fake.requests if r.kind == "commits"]
        assert fake.max_in_flight <= 4
    assert [c.sha for c in repos[0].commits] == expected
    assert [r.query.get("page", "1") for r in listing] == ["1", "2"]
    assert all(r.query["per_page"] == "100" for r in listing)
    assert sum(1 for c in repos[0].commits if c.pr) == 37
    dump_collected(repos, tmp_path / "out.json")
    assert load_collected(tmp_path / "out.json") == repos
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError):
        load_collected(tmp_path / "bad.json")


def test_the_fake_speaks_github_http() -> None:
    with FakeGitHub(CASE) as fake:
        url = f"{fake.api_url}/repos/acme/widgets/commits?per_page=5&since=2026-03-08T08:00:00Z"
        with urllib.request.urlopen(url) as response:
            etag = response.headers["ETag"]
            assert response.headers["X-RateLimit-Remaining"] == "4999"
            assert 'rel="next"' in response.headers["Link"] and "page=2" in response.headers["Link"]
            assert len(json.loads(response.read())) == 5
        conditional = urllib.request.Request(url, headers={"If-None-Match": etag})
        with pytest.raises(urllib.error.HTTPError) as not_modified:
            urllib.request.urlopen(conditional)
        assert not_modified.value.code == 304
        assert not_modified.value.headers["X-RateLimit-Remaining"] == "4999"  # a 304 costs nothing
        with urllib.request.urlopen(f"{fake.api_url}/rate_limit") as response:
            assert json.loads(response.read())["resources"]["core"]["used"] == 1
        assert [(r.kind, r.status) for r in fake.requests] == [("commits", 200), ("commits", 304), ("rate_limit", 200)]


@pytest.mark.parametrize(("status", "told"), [(429, "rate limit"), (403, "rate limit"), (502, "backoff")])
def test_waits_say_whether_they_are_a_rate_limit_or_a_backoff(status: int, told: str) -> None:
    from urllib3 import HTTPResponse

    from newsletter.collect.github import make_retry

    said: list[tuple[str, float]] = []
    retry = make_retry(lambda s: said.append(("rate limit", s)), lambda s: said.append(("backoff", s)))
    retry.sleep(HTTPResponse(body=b"", status=status, headers={"Retry-After": "1"}))
    assert said == [(told, 1.0)]
