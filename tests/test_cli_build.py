"""`newsletter build` end to end: the real CLI against FakeGitHub and FakeOpenAI on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from tests.fakes import github
from tests.fakes.openai import FakeOpenAI

CASE = Path(__file__).parent / "data" / "github" / "widgets-2026-03-08"
DAY = ["acme/widgets", "--date", "2026-03-08", "--tz", "America/Los_Angeles"]


@pytest.fixture
def fake_github(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    with github.FakeGitHub(CASE) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        yield server


def test_no_key_builds_with_the_heuristic_and_says_so(fake_github: object, tmp_path: Path) -> None:
    expected = json.loads((CASE / "case.json").read_text())["expected_shas"]
    out = tmp_path / "issue.json"
    result = CliRunner().invoke(app, ["build", *DAY, "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "analyzer: heuristic" in result.output
    issue = json.loads(out.read_text())
    shas = [c["commit"]["sha"] for repo in issue["repos"] for c in repo["commits"]]
    assert sorted(shas) == sorted(expected)
    assert all(c["analysis"]["analyzer"] == "heuristic" for repo in issue["repos"] for c in repo["commits"])


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_markdown_with_the_model_then_from_the_cache(
    fake_github: object, monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    with FakeOpenAI() as llm:
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", llm.url)
        first = CliRunner().invoke(app, ["build", *DAY, "--lang", lang, "--format", "md"])
        calls = len(llm.requests)
        second = CliRunner().invoke(app, ["build", *DAY, "--lang", lang, "--format", "md"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert calls > 0 and len(llm.requests) == calls  # the second run is served from the cache
    assert "analyzer: llm" in first.output and "0 model calls" in second.output
    heading = "每日更新报告" if lang == "zh-CN" else "Daily commit digest"
    assert heading in first.stdout and "🔴" in first.stdout


def test_bad_options_are_one_line() -> None:
    result = CliRunner().invoke(app, ["build", "acme/widgets", "--format", "pdf"])
    assert result.exit_code == 2 and "unknown format 'pdf'" in result.output
    result = CliRunner().invoke(app, ["build", "acme/widgets", "--lang", "fr"])
    assert result.exit_code == 2 and "unsupported language 'fr'" in result.output
