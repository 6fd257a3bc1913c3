"""Every test runs isolated from the person's machine: its own data folder, no keys, no AWS profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import browser  # noqa: F401  (a fresh headless Chromium, for the *_browser tests)

# Stores of both backends (SQLite in tmp, DynamoDB through moto server): see tests/stores.py.
from tests.stores import any_store, clock, make_store, moto_endpoint, store_backend, store_env, store_location  # noqa: F401
from tests.widgets import widgets_github  # noqa: F401  (the fake GitHub serving the widgets day)

_OUTSIDE = (
    "GITHUB_TOKEN",
    "GITHUB_API_URL",
    "GITHUB_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "NEWSLETTER_STORE",
    "NEWSLETTER_DELIVERY",
    "NEWSLETTER_OUTBOX",
    "NEWSLETTER_LISTS_DIR",
    "NEWSLETTER_MODEL",
    "NEWSLETTER_ANALYSIS_CONCURRENCY",
    "NEWSLETTER_PROMPT_TOKENS",
    "NEWSLETTER_RUN_TOKEN_BUDGET",
    "NEWSLETTER_MAX_OUTPUT_TOKENS",
    "NEWSLETTER_RESPONSE_FORMAT",
    "NEWSLETTER_LLM_RETRIES",
    "NEWSLETTER_LLM_TIMEOUT",
    "NEWSLETTER_LLM_SEED",
    "NEWSLETTER_TRIAGE",
    "NEWSLETTER_PRICES",
    "NEWSLETTER_PUBLIC_URL",
    "NEWSLETTER_SECRET",
    "SMTP_HOST",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in _OUTSIDE:
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    monkeypatch.setenv("NEWSLETTER_DATA_DIR", str(data))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("NEWSLETTER_SECRET", "test-Qm7Vx2Lp9Rk4Tz8Wn3Bc6Hj1Fd5Gs0Ya-not-for-production")
    # The shipped list files, wherever pytest was started from.
    monkeypatch.setenv("NEWSLETTER_LISTS_DIR", str(Path(__file__).resolve().parents[1] / "subscribers"))
    return data
