"""Per-recipient MIME messages: headers, parts, links, encodings."""

from __future__ import annotations

import email
import html
import random
import re
from email import policy
from urllib.parse import parse_qs, quote, unquote, urlparse

from newsletter.deliver.message import MessageFactory
from newsletter.store.common import email_hash
from newsletter.subscriptions import Tokens
from tests.deliver_support import SECRET, mailing_list, rendered, sendable


def _factory(subject: str | None = None) -> MessageFactory:
    issue = sendable()
    body = rendered(subject) if subject else issue.rendered
    return MessageFactory(
        body, mailing_list(), tokens=Tokens(SECRET), public_url="https://news.example.com/", view_url=issue.view_url
    )


def _token(url: str) -> str:
    return parse_qs(urlparse(url).query)["token"][0]


def test_message_is_valid_multipart_alternative_with_personal_links() -> None:
    raw = _factory().build("ann@example.org", "Ann Lee")
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert not message.defects
    assert str(message["To"]) == "Ann Lee <ann@example.org>"
    assert str(message["From"]) == "Commit Digest <digest@example.com>"
    assert str(message["Reply-To"]) == "editor@example.com"
    assert str(message["Subject"]) == "sglang daily · 2026-01-13 · Faster MoE kernels on H200"
    assert message["Message-ID"].endswith("@example.com>")
    assert message["Date"]
    assert str(message["List-Id"]) == "sglang daily <digest.example.com>"
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"

    https, mailto = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    assert https.startswith("https://news.example.com/unsubscribe?token=")
    assert mailto.startswith("mailto:editor@example.com?subject=")
    claims = Tokens(SECRET).read(_token(https), "unsubscribe")
    assert (claims.subject, claims.list_id) == (email_hash("ann@example.org"), "digest")

    text, page = (part.get_content() for part in message.iter_parts())
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert "%%" not in text and "%%" not in page
    assert f"Unsubscribe: {https}" in text
    assert "Sent to ann@example.org" in text and "Für alle" in text
    assert "每日摘要" in page
    # Links in the HTML are escaped: & of the view URL becomes &amp;.
    assert 'href="https://digest.example.com/digest/2026-01-13/?utm=a&amp;b=c"' in page
    assert f'href="{html.escape(https)}"' in page
    preferences = re.search(r'href="([^"]+/preferences[^"]+)"', page)
    assert preferences is not None
    assert Tokens(SECRET).read(_token(html.unescape(preferences.group(1))), "preferences").subject == email_hash(
        "ann@example.org"
    )


def test_every_recipient_gets_their_own_token_and_message_id() -> None:
    factory = _factory()
    seen_tokens, seen_ids = set(), set()
    for n in range(50):
        message = email.message_from_bytes(factory.build(f"r{n}@example.org"), policy=policy.default)
        https = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))[0]
        seen_tokens.add(unquote(_token(https)))
        seen_ids.add(message["Message-ID"])
        assert str(message["To"]) == f"r{n}@example.org"
    assert len(seen_tokens) == 50 and len(seen_ids) == 50


def test_cjk_subject_and_body_are_encoded() -> None:
    subject = "sglang 每日摘要 · 2026-01-13 · 为 H200 加速 MoE 内核，并修复调度器在长上下文下的内存泄漏问题"
    raw = _factory(subject).build("张三@example.org".replace("张三", "zhang"), "张三")
    assert raw.isascii()
    message = email.message_from_bytes(raw, policy=policy.default)
    assert str(message["Subject"]) == subject
    assert str(message["To"]) == "张三 <zhang@example.org>"


def test_substitution_survives_every_alignment_of_the_encoded_pieces() -> None:
    """The static pieces are base64-encoded once per issue (short ones, like the markup between two links,
    per recipient with the values); whatever the lengths around the values, each part decodes to exactly the
    naive substitution."""
    from newsletter.models import Placeholder, RenderedIssue

    rng = random.Random(7)
    tokens = Tokens(SECRET)
    for _ in range(200):
        chunks = []
        for _ in range(rng.randint(0, 6)):
            length = rng.choice([rng.randint(0, 7), rng.randint(80, 300)])  # about _INLINE bytes and far below
            chunks.append("".join(rng.choice("ab€中<&\n") for _ in range(length)))
            chunks.append(rng.choice(list(Placeholder)).value)
        chunks.append("end" * rng.randint(0, 3))
        body = "".join(chunks)
        issue = RenderedIssue(subject="s", preheader="", html=body, text=body, markdown="", html_bytes=len(body))
        factory = MessageFactory(
            issue, mailing_list(), tokens=tokens, public_url="https://p", view_url="https://v/?a&b"
        )
        address = "u" * rng.randint(1, 9) + "@example.org"
        message = email.message_from_bytes(factory.build(address), policy=policy.default)
        text, page = (part.get_content() for part in message.iter_parts())
        links = factory.links(address)
        want_text, want_html = body, body
        for placeholder in Placeholder:
            want_text = want_text.replace(placeholder.value, links.value(placeholder))
            want_html = want_html.replace(placeholder.value, html.escape(links.value(placeholder)))

        def same(value: str) -> str:  # tokens carry a timestamp: compare them apart from it
            return re.sub(r"token=[^&\s<\"]+", "token=…", value.replace("\r\n", "\n"))

        assert same(text) == same(want_text)
        assert same(page) == same(want_html)


def test_a_line_break_in_a_name_or_subject_cannot_add_a_header() -> None:
    """Names come from a web form or an imported CSV, headlines from commit messages: a CR or LF in them must
    not end the header line and start another (a Bcc, a second Content-Type)."""
    raw = _factory("Fix\r\nBcc: spam@evil.example").build("ann@example.org", "Ann\r\nBcc: victim@evil.example")
    message = email.message_from_bytes(raw, policy=policy.default)
    assert not message.defects
    assert message["Bcc"] is None
    assert message["To"].addresses[0].addr_spec == "ann@example.org"
    assert "\n" not in str(message["Subject"]) and "\n" not in str(message["To"])
    assert b"\r\nBcc:" not in raw


def test_an_issue_kept_with_the_old_view_placeholder_still_links_its_page() -> None:
    """Issues rendered before the page address went into the render carry ``%%view_url%%``: a campaign that
    resumes one after an upgrade fills it (the same for every reader) instead of mailing the placeholder."""
    old = rendered().model_copy(
        update={"html": '<p><a href="%%view_url%%">view</a> %%email%%</p>', "text": "View: %%view_url%%\n"}
    )
    factory = MessageFactory(
        old, mailing_list(), tokens=Tokens(SECRET), public_url="https://p", view_url="https://v/2026-01-13?a&b"
    )
    message = email.message_from_bytes(factory.build("ann@example.org"), policy=policy.default)
    text, page = (part.get_content() for part in message.iter_parts())
    assert text == "View: https://v/2026-01-13?a&b\n"
    assert page == '<p><a href="https://v/2026-01-13?a&amp;b">view</a> ann@example.org</p>'


def test_each_message_carries_the_links_the_old_path_wrote_byte_for_byte() -> None:
    """The links go into the message as the public address, the purpose and the signed token, without quoting
    (the token's characters need none): on random addresses, each equals what quote(token, safe="") gave before,
    as it is in the text part and List-Unsubscribe, escaped in the HTML part."""
    rng = random.Random(11)
    tokens = Tokens(SECRET, clock=lambda: 1_768_300_000.0)
    factory = MessageFactory(
        rendered(), mailing_list(), tokens=tokens, public_url="https://news.example.com/", view_url="https://v/"
    )
    for _ in range(200):
        local = "".join(rng.choice("abcXYZ019.+_-&'%=~") for _ in range(rng.randint(1, 24)))
        address = f"{local}@{rng.choice(['example.org', 'bücher.de', 'mail.example.com'])}"
        message = email.message_from_bytes(factory.build(address), policy=policy.default)
        text, page = (part.get_content() for part in message.iter_parts())
        old = {
            purpose: quote(tokens.make(purpose, address, "digest"), safe="")
            for purpose in ("unsubscribe", "preferences")
        }
        urls = {purpose: f"https://news.example.com/{purpose}?token={token}" for purpose, token in old.items()}
        for url in urls.values():
            assert f": {url}\n" in text
            assert f'href="{html.escape(url)}"' in page
        assert str(message["List-Unsubscribe"]).startswith(f"<{urls['unsubscribe']}>")
