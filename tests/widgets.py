"""The widgets day (acme/widgets, 8–9 March 2026 in tests/data/github) served by the fake GitHub, and list files
written for a test: what the run, weekly and delivery tests start from."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.fakes.github import FakeGitHub

WIDGETS_DAY = Path(__file__).resolve().parent / "data" / "github" / "widgets-2026-03-08"


@pytest.fixture
def widgets_github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """The fake GitHub serving the widgets day, wired into the environment the CLI and the library read."""
    with FakeGitHub(WIDGETS_DAY) as gh:
        monkeypatch.setenv("GITHUB_API_URL", gh.api_url)
        monkeypatch.setenv("GITHUB_URL", gh.web_url)
        yield gh


def write_lists(folder: Path, monkeypatch: pytest.MonkeyPatch, files: Mapping[str, str]) -> Path:
    """``folder`` with one ``<list id>.toml`` per entry of ``files``, made the lists folder of the test."""
    folder.mkdir()
    for list_id, text in files.items():
        (folder / f"{list_id}.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("NEWSLETTER_LISTS_DIR", str(folder))
    return folder
