"""`newsletter preview`: the sample day offline end to end, its errors, and the local server."""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.models import RenderedIssue
from newsletter.render.preview import open_server, write_preview
from newsletter.samples import sample_day
from tests.fakes.github import FakeGitHub

CASE = Path(__file__).parent / "data" / "github" / "widgets-2026-03-08"


def test_preview_sample_writes_three_files_offline(tmp_path: Path) -> None:
    out = tmp_path / "preview"
    result = CliRunner().invoke(app, ["preview", "--sample", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html, text, md = (out / "issue.html", out / "issue.txt", out / "issue.md")
    for path in (html, text, md):
        assert str(path) in result.stdout
        assert path.stat().st_size > 0
    assert "HTML " in result.stderr and "bytes" in result.stderr
    page = html.read_text("utf-8")
    repos, _, _ = sample_day()
    for commit in repos[0].commits:
        assert f'href="{commit.url}"' in page
        assert commit.short_sha in text.read_text("utf-8")
        assert commit.short_sha in md.read_text("utf-8")
    assert '<html lang="en"' in page
    assert "%%unsubscribe_url%%" in page


def test_preview_collects_from_github_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = json.loads((CASE / "case.json").read_text())
    with FakeGitHub(CASE) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        args = ["preview", "acme/widgets", "--date", expected["date"], "--tz", expected["tz"], "--out", str(tmp_path)]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    page = (tmp_path / "issue.html").read_text("utf-8")
    for sha in expected["expected_shas"]:
        assert f'/acme/widgets/commit/{sha}"' in page
    assert expected["roles"]["at_end_excluded"] not in page
    assert "acme/widgets" in (tmp_path / "issue.txt").read_text("utf-8")


def test_preview_sample_in_chinese(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["preview", "--sample", "--lang", "zh-CN", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "issue.html").read_text("utf-8")
    assert '<html lang="zh-CN"' in page and "今日概览" in page


def test_preview_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    for args in (
        ["preview", "--sample", "octo/repo"],
        ["preview"],
        ["preview", "--sample", "--lang", "fr"],
        ["preview", "not a repo"],
    ):
        result = runner.invoke(app, [*args, "--out", str(tmp_path)])
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("error:") and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.output


def test_preview_server_serves_the_folder_on_loopback(tmp_path: Path) -> None:
    rendered = RenderedIssue(subject="s", preheader="p", html="<p>hi</p>", text="hi", markdown="# hi", html_bytes=9)
    write_preview(rendered, tmp_path)
    server = open_server(tmp_path, 0)
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/issue.html", timeout=5) as answer:
            assert answer.read() == b"<p>hi</p>"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
