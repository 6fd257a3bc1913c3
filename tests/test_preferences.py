"""Readers' own preferences per list: checked once (preferences.py), kept by both stores with the membership,
logged in the consent record, and set through the CLI and CSV import/export."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from newsletter import preferences
from newsletter.cli import app
from newsletter.errors import ConfigError, InputError
from newsletter.lists import parse_list
from newsletter.models import Importance, ReaderPreferences
from newsletter.store.base import MemberStatus
from tests.stores import Store

A, B, C = "ada@example.com", "bob@example.com", "cy@example.com"
LIST = parse_list(
    {
        "title": "T",
        "repos": ["acme/widgets"],
        "languages": ["en", "zh-CN"],
        "sender": "D <d@example.com>",
        "postal_address": "1 Road",
    },
    list_id="acme",
    source="acme.toml",
)


def _member(store: Store, email: str, list_id: str = "acme") -> None:
    store.add_members([(email, None)], list_id, status=MemberStatus.ACTIVE, source="t")


# --- checking what people type ------------------------------------------------------------------------


def test_areas_are_normalised_sorted_and_deduplicated() -> None:
    assert preferences.parse_areas("python/sglang/srt/, ./sgl-kernel/ /docs;python/sglang/srt/") == (
        "docs",
        "python/sglang/srt/",
        "sgl-kernel/",
    )
    assert preferences.parse_areas(["b/", "a/"]) == ("a/", "b/")
    assert preferences.parse_areas("") == ()


@pytest.mark.parametrize("bad", ["../etc/", "a/*/b", "x\x00y", "a" * 201])
def test_bad_areas_are_refused(bad: str) -> None:
    with pytest.raises(InputError, match="invalid area"):
        preferences.parse_areas(bad)


def test_an_area_is_a_folder_or_a_file_not_a_string_prefix() -> None:
    assert preferences.touches("python/sglang/srt/layers/x.py", ["python/sglang/srt/"])
    assert preferences.touches("python/sglang/srt/layers/x.py", ["python/sglang/srt"])
    assert preferences.touches("README.md", ["README.md"])
    assert not preferences.touches("python/sglang/srt2/x.py", ["python/sglang/srt"])
    assert not preferences.touches("docs/x.md", ["python/"])


def test_choices_are_checked_against_the_list() -> None:
    chosen = preferences.choose(LIST, min_importance="HIGH", areas="src/", language="zh-cn", cadence="daily")
    assert chosen == ReaderPreferences(
        min_importance=Importance.HIGH, areas=("src/",), language="zh-CN", cadence=preferences.Cadence.DAILY
    )
    # '' resets one choice to the list's default, None leaves it alone
    assert preferences.choose(LIST, chosen, min_importance="", areas="") == ReaderPreferences(
        language="zh-CN", cadence=preferences.Cadence.DAILY
    )
    with pytest.raises(InputError, match="not sent in 'fr'"):
        preferences.choose(LIST, language="fr")
    with pytest.raises(InputError, match="unknown importance 'urgent'"):
        preferences.choose(LIST, min_importance="urgent")
    assert preferences.choose(LIST, cadence="Weekly").cadence == preferences.Cadence.WEEKLY
    with pytest.raises(InputError, match="unknown cadence 'monthly'"):
        preferences.choose(LIST, cadence="monthly")


def test_a_list_offers_its_languages() -> None:
    assert LIST.language == "en" and LIST.offered_languages == ["en", "zh-CN"]
    base = {"title": "T", "repos": ["a/b"], "sender": "D <d@example.com>", "postal_address": "1 Road"}
    assert parse_list({**base, "language": "zh-CN"}, list_id="x", source="x.toml").offered_languages == ["zh-CN"]
    with pytest.raises(ConfigError, match=r"x\.toml: key 'languages'"):
        parse_list({**base, "languages": ["en", "fr"]}, list_id="x", source="x.toml")


# --- the store (both backends) ------------------------------------------------------------------------


def test_preferences_round_trip_and_only_for_members(any_store: Store) -> None:
    prefs = ReaderPreferences(min_importance=Importance.HIGH, areas=("a/", "b/"), language="zh-CN")
    assert not any_store.set_preferences(A, "acme", prefs, source="cli")  # not a member
    assert any_store.preferences(A, "acme") == ReaderPreferences()
    for email in (C, A, B):
        _member(any_store, email)
    assert any_store.set_preferences(A, "acme", prefs, source="cli")
    assert any_store.set_preferences(C, "acme", ReaderPreferences(areas=("c/",)), source="web")
    assert any_store.preferences(A, "acme") == prefs
    assert any_store.preferences(B, "acme") == ReaderPreferences()
    assert list(any_store.list_preferences("acme")) == [(A, prefs), (C, ReaderPreferences(areas=("c/",)))]
    assert list(any_store.list_preferences("other")) == []
    # back to the defaults: nothing left stored
    assert any_store.set_preferences(C, "acme", ReaderPreferences(), source="web")
    assert [email for email, _ in any_store.list_preferences("acme")] == [A]


def test_a_change_is_in_the_consent_log_and_goes_with_the_person(any_store: Store) -> None:
    _member(any_store, A)
    any_store.set_preferences(A, "acme", ReaderPreferences(min_importance=Importance.MEDIUM), source="web")
    held = any_store.person(A)
    events = [(e["action"], e["source"], e["detail"]) for e in held["consent_log"]]
    assert ("preferences", "web", "min_importance=medium") in events
    assert held["preferences"] == {"acme": {"min_importance": "medium"}}
    assert any_store.remove_member(A, "acme", source="cli")
    assert any_store.preferences(A, "acme") == ReaderPreferences()  # a new membership starts from the defaults
    _member(any_store, A)
    any_store.set_preferences(A, "acme", ReaderPreferences(areas=("x/",)), source="web")
    any_store.erase_person(A)
    assert any_store.person(A)["preferences"] == {}
    assert list(any_store.list_preferences("acme")) == []


def test_an_import_batch_writes_the_choices_of_the_people_it_adds(any_store: Store) -> None:
    """A CSV import's preference columns go in with the batch that adds the people (one write, not a
    transaction per reader), logged as set_preferences logs them; whoever was on the list keeps theirs."""
    chosen = ReaderPreferences(min_importance=Importance.HIGH, areas=("docs/",))
    _member(any_store, B)
    outcome = any_store.add_members(
        [(A, "Ada"), (B, None), (C, None)],
        "acme",
        status=MemberStatus.ACTIVE,
        source="import:people.csv",
        preferences={A: chosen, B: chosen, C: ReaderPreferences()},
    )
    assert sorted(outcome.added) == [A, C] and list(outcome.present) == [B]
    assert any_store.preferences(A, "acme") == chosen
    assert any_store.preferences(B, "acme") == ReaderPreferences()  # already a member: left alone
    assert list(any_store.list_preferences("acme")) == [(A, chosen)]  # the list's defaults are not stored
    events = [(e["action"], e["source"], e["detail"]) for e in any_store.person(A)["consent_log"]]
    assert events == [
        ("imported", "import:people.csv", None),
        ("preferences", "import:people.csv", "min_importance=high areas=docs/"),
    ]
    assert [e["action"] for e in any_store.person(C)["consent_log"]] == ["imported"]


# --- the CLI and CSV files ----------------------------------------------------------------------------


@pytest.fixture
def store(store_env: dict[str, Any], make_store: Callable[..., Store]) -> Store:
    from newsletter.store.common import utcnow

    return make_store(clock=utcnow)


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_add_and_set_preferences_through_the_cli(store: Store) -> None:
    added = run(
        "subscribers", "add", "Ada@example.com", "--list", "sglang", "--confirmed",
        "--min-importance", "high", "--areas", "sgl-model-gateway/,python/sglang/srt/", "--lang", "en",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "preferences: min_importance=high areas=python/sglang/srt/,sgl-model-gateway/ language=en" in added.stdout
    assert store.preferences(A, "sglang") == ReaderPreferences(
        min_importance=Importance.HIGH, areas=("python/sglang/srt/", "sgl-model-gateway/"), language="en"
    )
    changed = run("subscribers", "set", A, "--list", "sglang", "--min-importance", "", "--areas", "docs/")
    assert changed.exit_code == 0, changed.output
    assert store.preferences(A, "sglang") == ReaderPreferences(areas=("docs/",), language="en")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--lang", "fr"], "list 'sglang' is not sent in 'fr'"),
        (["--min-importance", "urgent"], "unknown importance 'urgent'"),
        (["--areas", "../x"], "invalid area '../x'"),
    ],
)
def test_a_bad_choice_is_one_line_and_adds_nobody(store: Store, args: list[str], fragment: str) -> None:
    result = run("subscribers", "add", A, "--list", "sglang", "--confirmed", *args)
    assert result.exit_code != 0 and result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1 and fragment in result.stderr
    assert store.get_member(A, "sglang") is None


def test_setting_preferences_of_a_non_member_is_one_line(store: Store) -> None:
    result = run("subscribers", "set", A, "--list", "sglang", "--areas", "docs/")
    assert result.exit_code != 0 and "ada@example.com is not on the list 'sglang'" in result.stderr


def test_csv_import_and_export_carry_preferences(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "email,name,min_importance,areas,language,cadence\n"
        "ada@example.com,Ada,high,docs/ python/,en,\n"
        "bob@example.com,Bob,,,,weekly\n"
        "cy@example.com,Cy,urgent,,,\n",
        encoding="utf-8",
    )
    result = run("subscribers", "import", str(path), "--list", "sglang", "--confirmed")
    assert result.exit_code == 0, result.output
    assert "line 4: invalid address 'cy@example.com': unknown importance 'urgent'" in result.stdout
    assert "2 added" in result.stdout
    assert store.preferences(A, "sglang") == ReaderPreferences(
        min_importance=Importance.HIGH, areas=("docs/", "python/"), language="en"
    )
    assert store.preferences(B, "sglang") == ReaderPreferences(cadence=preferences.Cadence.WEEKLY)
    exported = run("subscribers", "export", "--list", "sglang")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["email"], r["min_importance"], r["areas"], r["language"], r["cadence"]) for r in rows] == [
        (A, "high", "docs/ python/", "en", ""),
        (B, "", "", "", "weekly"),
    ]
    # export → import into another store is the identity for the choices
    again = tmp_path / "again.csv"
    again.write_text(exported.stdout, encoding="utf-8")
    assert run("subscribers", "remove", A, "--list", "sglang").exit_code == 0
    assert run("subscribers", "import", str(again), "--list", "sglang", "--confirmed").exit_code == 0
    assert store.preferences(A, "sglang").areas == ("docs/", "python/")


# --- the preferences page's form, through the HTTP handler ----------------------------------------------


def test_the_page_saves_checked_choices_and_refuses_forged_ones(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from urllib.parse import quote

    from newsletter.aws import handlers
    from newsletter.subscriptions import Tokens
    from tests.aws_stack import http_event

    monkeypatch.setenv("NEWSLETTER_PUBLIC_URL", "https://news.example.com")
    _member(store, A, "sglang")
    secret = "test-Qm7Vx2Lp9Rk4Tz8Wn3Bc6Hj1Fd5Gs0Ya-not-for-production"  # tests/conftest.py's
    token = quote(Tokens(secret).make("preferences", A, "sglang"), safe="")

    def post(body: str) -> dict[str, Any]:
        form = "application/x-www-form-urlencoded"
        event = http_event("POST", "/preferences", query=f"token={token}", body=body.encode(), content_type=form)
        return handlers.http(event, None)

    forged = post("lists=sglang&reader=1&min_importance=urgent&areas=docs%2F")
    assert forged["statusCode"] == 400
    assert store.preferences(A, "sglang") == ReaderPreferences()  # nothing changed
    assert post("lists=sglang&reader=1&areas=..%2Fetc")["statusCode"] == 400
    saved = post("lists=sglang&reader=1&min_importance=medium&areas=docs%2F&areas=python%2F&language=en")
    assert saved["statusCode"] == 200
    assert store.preferences(A, "sglang") == ReaderPreferences(
        min_importance=Importance.MEDIUM, areas=("docs/", "python/"), language="en"
    )
    # A form without the reader's part (an older page) leaves the choices alone; leaving the list drops them.
    assert post("lists=sglang")["statusCode"] == 200
    assert store.preferences(A, "sglang").areas == ("docs/", "python/")
    page = handlers.http(http_event("GET", "/preferences", query=f"token={token}"), None)
    body = base64.b64decode(page["body"]).decode() if page.get("isBase64Encoded") else page["body"]
    assert 'value="docs/" checked' in body
    assert 'id="importance-medium" name="min_importance" value="medium" checked' in body
