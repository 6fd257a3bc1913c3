"""Settings and stores for running the real LLM analyzer against tests/fakes/openai.py."""

from __future__ import annotations

from typing import Any

from newsletter.config import Settings
from tests.fakes.openai import FakeOpenAI


def llm_settings(fake: FakeOpenAI, **overrides: Any) -> Settings:
    base = Settings.from_env()
    values: dict[str, Any] = {
        "openai_api_key": "test-key",
        "openai_base_url": fake.url,
        "openai_model": "gpt-4o-mini",
        "llm_max_retries": 4,
        "llm_timeout": 10.0,
    }
    values.update(overrides)
    return base.model_copy(update=values)
