"""Settings from environment variables: names, derived defaults and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.config import Settings
from newsletter.errors import ConfigError


def test_variables_map_to_settings_and_defaults_follow_the_data_folder(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "NEWSLETTER_DATA_DIR": str(tmp_path),
            "NEWSLETTER_BOT_LOGINS": "Renovate, dependabot-preview ,",
            "OPENAI_MODEL": "qwen",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "NEWSLETTER_TRIAGE": "off",
            "NEWSLETTER_SEND_RATE": "2.5",
            "GITHUB_API_URL": "https://ghe.example.com/api/v3/",
            "NEWSLETTER_PUBLIC_URL": "https://news.example.com/",
        }
    )
    assert settings.data_dir == tmp_path
    assert settings.store_url == f"sqlite:///{tmp_path / 'newsletter.db'}"
    assert settings.archive_url == f"local://{tmp_path / 'archive'}"
    assert settings.github_bot_logins == frozenset({"renovate", "dependabot-preview"})
    assert settings.openai_model == "qwen"
    assert settings.aws_region == "eu-west-1"
    assert settings.triage is False
    assert settings.send_rate == 2.5
    assert settings.github_api_url == "https://ghe.example.com/api/v3"
    assert settings.public_url == "https://news.example.com"


def test_the_project_name_wins_over_the_ecosystem_fallback() -> None:
    env = {"NEWSLETTER_MODEL": "a", "OPENAI_MODEL": "b", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "x"}
    settings = Settings.from_env(env)
    assert (settings.openai_model, settings.aws_region) == ("a", "us-east-1")


def test_the_process_environment_is_read_and_empty_counts_as_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("NEWSLETTER_DATA_DIR", raising=False)
    monkeypatch.setenv("NEWSLETTER_SEND_CONCURRENCY", "3")
    monkeypatch.setenv("NEWSLETTER_SEND_RATE", "")
    monkeypatch.setenv("NEWSLETTER_SECRET", "s3cret")
    settings = Settings.from_env()
    assert settings.data_dir == tmp_path / "newsletter"
    assert (settings.send_concurrency, settings.send_rate, settings.secret) == (3, None, "s3cret")
    assert "s3cret" not in repr(settings)
    # Given variables are all there is: the process environment does not leak in.
    assert Settings.from_env({}).secret is None


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("NEWSLETTER_SEND_CONCURRENCY", "eight", "NEWSLETTER_SEND_CONCURRENCY='eight' is not a whole number"),
        ("NEWSLETTER_PROMPT_TOKENS", "100", "NEWSLETTER_PROMPT_TOKENS=100 must be at least 2000"),
        ("NEWSLETTER_DELIVERY", "Pigeon", "NEWSLETTER_DELIVERY='pigeon' is not one of outbox, smtp, ses"),
        ("NEWSLETTER_TRIAGE", "maybe", "NEWSLETTER_TRIAGE='maybe' is not a yes/no value (use 1 or 0)"),
        ("NEWSLETTER_SEND_RATE", "0", "NEWSLETTER_SEND_RATE=0.0 must be a finite number greater than 0"),
        ("NEWSLETTER_SEND_LEASE", "inf", "NEWSLETTER_SEND_LEASE=inf must be a finite number greater than 0"),
        ("NEWSLETTER_SEND_LEASE", "nan", "NEWSLETTER_SEND_LEASE=nan must be a finite number greater than 0"),
        (
            "NEWSLETTER_PUBLIC_URL",
            "javascript:alert(1)",
            "NEWSLETTER_PUBLIC_URL='javascript:alert(1)' is not an http(s) URL",
        ),
        ("NEWSLETTER_SEND_LEASE", "soon", "NEWSLETTER_SEND_LEASE='soon' is not a number"),
        ("SMTP_TLS", "ssl", "SMTP_TLS='ssl' is not one of starttls, tls, none"),
        ("OPENAI_BASE_URL", "localhost:8000", "OPENAI_BASE_URL='localhost:8000' is not an http(s) URL"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(name: str, value: str, line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    assert str(caught.value).startswith(line)
    assert "\n" not in str(caught.value)
