"""Every user-visible string exists in both languages with the same placeholders."""

from __future__ import annotations

import string

import pytest

from newsletter.errors import InputError
from newsletter.i18n import LANGUAGES, strings, t


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    en, zh = strings("en"), strings("zh-CN")
    assert set(en) == set(zh)
    for key in en:
        if key.startswith("language."):
            continue  # date formats differ on purpose (month names vs numbers)
        assert _fields(en[key]) == _fields(zh[key]), key
    assert set(LANGUAGES) == {"en", "zh-CN"}


def test_unknown_language_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unsupported language 'fr'"):
        t("fr", "markdown.summary")
