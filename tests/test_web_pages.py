"""The subscription endpoints' pages: statuses, both languages, accessible forms, nothing reflected raw."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from newsletter.web import pages
from newsletter.web.pages import ListChoice, ReaderForm

PUBLIC = "https://api.example.org/"
NASTY = '"><script>alert(1)</script>'


class _Doc(HTMLParser):
    """Just enough of the page's structure to check accessibility and where values ended up."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def _accessible(html: str, lang: str) -> _Doc:
    doc = _Doc(html)
    assert doc.all("html") == [{"lang": lang}]
    assert len(doc.all("h1")) == 1
    labelled = {a["for"] for a in doc.all("label")}
    for field in doc.all("input"):
        if field.get("type") != "hidden":
            assert field["id"] in labelled, f"input {field} has no label"
    return doc


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_every_page_renders_in_both_languages(lang: str) -> None:
    rendered = [
        pages.subscribe_form(lang, public_url=PUBLIC, list_id="sglang-daily", list_title="SGLang daily"),
        pages.subscribe_pending(lang),
        pages.confirmed(lang, list_title="SGLang daily"),
        pages.confirmed(lang, list_title="SGLang daily", already=True),
        pages.unsubscribed(lang, list_title="SGLang daily", public_url=PUBLIC, token="tok"),
        pages.resubscribed(lang, list_title="SGLang daily"),
        pages.preferences_form(
            lang,
            choices=[ListChoice("a", "A", True)],
            public_url=PUBLIC,
            token="tok",
            reader=ReaderForm("A", "medium", [("docs/", False), ("python/", True)], ["zh-CN", "en"], "en"),
        ),
        pages.preferences_saved(lang, subscribed_titles=["A"]),
        pages.bad_token(lang),
        pages.bad_request(lang),
        pages.not_found(lang),
        pages.server_error(lang),
    ]
    assert [p.status for p in rendered] == [200, 202, 200, 200, 200, 200, 200, 200, 400, 400, 404, 500]
    for page in rendered:
        _accessible(page.html, lang)
    if lang == "zh-CN":
        assert "订阅已确认" in rendered[2].html
    else:
        assert "Subscription confirmed" in rendered[2].html


def test_confirm_page_has_no_second_button() -> None:
    page = pages.confirmed("en", list_title="SGLang daily")
    assert "<form" not in page.html and "<button" not in page.html
    assert "You are subscribed to SGLang daily." in page.html


def test_unsubscribe_page_offers_a_one_click_undo_with_the_token_url_encoded() -> None:
    page = pages.unsubscribed("en", list_title="SGLang daily", public_url=PUBLIC, token="a.b+c/d=")
    doc = _accessible(page.html, "en")
    (form,) = doc.all("form")
    assert form == {"method": "post", "action": "https://api.example.org/unsubscribe?token=a.b%2Bc%2Fd%3D"}
    assert {"type": "hidden", "name": "undo", "value": "1"} in doc.all("input")
    assert len(doc.all("button")) == 1


def test_preferences_form_checks_the_current_lists() -> None:
    choices = [ListChoice("sglang-daily", "SGLang daily", True), ListChoice("vllm-daily", "vLLM daily", False)]
    page = pages.preferences_form("en", choices=choices, public_url=PUBLIC, token="tok")
    boxes = _accessible(page.html, "en").all("input")
    assert [(b["value"], "checked" in b) for b in boxes] == [("sglang-daily", True), ("vllm-daily", False)]
    assert pages.preferences_saved("en", subscribed_titles=[]).html.count("not subscribed to any list") == 1


def test_nothing_is_reflected_raw() -> None:
    shown = [
        pages.subscribe_form("en", public_url=PUBLIC, list_id=NASTY, list_title=NASTY, email=NASTY, invalid=True),
        pages.confirmed("en", list_title=NASTY),
        pages.unsubscribed("en", list_title=NASTY, public_url=PUBLIC, token=NASTY),
        pages.preferences_form(
            "en",
            choices=[ListChoice(NASTY, NASTY, False)],
            public_url=PUBLIC,
            token=NASTY,
            reader=ReaderForm(NASTY, "low", [(NASTY, True)], ["en"], "en"),
        ),
        pages.preferences_saved("en", subscribed_titles=[NASTY]),
    ]
    for page in shown:
        assert "<script>" not in page.html
        assert "&lt;script&gt;" in page.html or "%3Cscript%3E" in page.html
    assert shown[0].status == 400
    assert 'role="alert"' in shown[0].html


def test_bad_token_page_says_nothing_changed() -> None:
    page = pages.bad_token("en", archive_url="https://d111.cloudfront.net/")
    assert page.status == 400
    assert "Nothing was changed." in page.html
    assert 'href="https://d111.cloudfront.net/"' in page.html


@pytest.mark.parametrize(
    ("header", "expected"),
    [("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"), ("en-US,en;q=0.9", "en"), ("fr-FR, zh-TW;q=0.5", "zh-CN"), (None, "en")],
)
def test_pick_language(header: str | None, expected: str) -> None:
    assert pages.pick_language(header) == expected
