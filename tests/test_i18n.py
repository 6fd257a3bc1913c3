"""Every user-visible string exists in both languages with the same placeholders."""

from __future__ import annotations

import string

import pytest

from newsletter.errors import InputError
from newsletter.i18n import LANGUAGES, strings, t


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    """Every family at once: the shared strings, the email's (``email.``) and the web pages' (``web.``)."""
    en, zh = strings("en"), strings("zh-CN")
    assert any(key.startswith("email.") for key in en) and any(key.startswith("web.") for key in en)
    # English singulars (`<key>_one`) have no Chinese twin: Chinese has no plural forms.
    singulars = {key for key in en if key.endswith("_one") and key.removesuffix("_one") in en and key not in zh}
    assert set(en) - singulars == set(zh)
    for key in set(en) - singulars:
        if key.startswith("language.") or key == "email.date_format":
            continue  # date formats differ on purpose (month names vs numbers)
        assert _fields(en[key]) == _fields(zh[key]), key
    assert set(LANGUAGES) == {"en", "zh-CN"}
    for table in (en, zh):
        assert len(table["email.weekdays"].split(",")) == 7 and len(table["language.months"].split(",")) == 12


def test_unknown_language_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unsupported language 'fr'"):
        t("fr", "markdown.summary")


def test_english_singulars_and_chinese_has_no_plural() -> None:
    assert t("en", "heuristic.added_files", count=1) == "Adds 1 file"
    assert t("en", "heuristic.added_files", count=2) == "Adds 2 files"
    assert t("zh-CN", "heuristic.added_files", count=1) == strings("zh-CN")["heuristic.added_files"].format(count=1)
