"""Bad input from a person, a server or the environment: one line on stderr, a non-zero exit, nothing changed."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner, Result

from newsletter.cli import app


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
