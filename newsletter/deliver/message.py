"""One issue → one MIME message per recipient, fast.

MJML runs once per issue (render stage); here the rendered HTML and text are split once around the
``Placeholder`` tokens and each recipient's message is a join of those pieces plus a handful of headers.
The parts are encoded with the stdlib's C codecs (quoted-printable or base64, whichever is smaller for the
issue's language), which is what keeps preparing a message well under a millisecond.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import secrets
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Protocol
from urllib.parse import quote

from newsletter.errors import ConfigError
from newsletter.models import MailingList, Placeholder, RenderedIssue

_PLACEHOLDER = re.compile("|".join(re.escape(p.value) for p in Placeholder))
_CRLF = b"\r\n"


class TokenMaker(Protocol):
    """What ``newsletter.subscriptions.Tokens`` offers: a signed token for one purpose, address and list."""

    def make(self, purpose: str, email: str, list_id: str) -> str: ...


@dataclass(frozen=True)
class Links:
    """The per-recipient values filled into the placeholders (raw, not escaped)."""

    unsubscribe_url: str
    preferences_url: str
    view_url: str
    email: str

    def value(self, placeholder: Placeholder) -> str:
        return {
            Placeholder.UNSUBSCRIBE_URL: self.unsubscribe_url,
            Placeholder.PREFERENCES_URL: self.preferences_url,
            Placeholder.VIEW_URL: self.view_url,
            Placeholder.EMAIL: self.email,
        }[placeholder]


class _Part:
    """A body split once around its placeholders; ``fill`` joins it back for one recipient."""

    def __init__(self, text: str, *, escape: bool) -> None:
        text = text.replace("\r\n", "\n")
        self.pieces: list[str] = []
        self.slots: list[Placeholder] = []
        last = 0
        for match in _PLACEHOLDER.finditer(text):
            self.pieces.append(text[last : match.start()])
            self.slots.append(Placeholder(match.group(0)))
            last = match.end()
        self.pieces.append(text[last:])
        self.escape = escape
        # Mostly-ASCII bodies stay readable and compact as quoted-printable; CJK text is a third the size
        # in base64 (QP spends three characters per byte).
        raw = text.encode("utf-8")
        non_ascii = len(raw) - len(text.encode("ascii", "ignore"))
        self.base64 = non_ascii * 8 > len(raw)

    def fill(self, links: Links) -> bytes:
        out = [self.pieces[0]]
        for slot, piece in zip(self.slots, self.pieces[1:], strict=True):
            value = links.value(slot)
            out.append(html.escape(value, quote=True) if self.escape else value)
            out.append(piece)
        return "".join(out).encode("utf-8")

    @property
    def transfer_encoding(self) -> str:
        return "base64" if self.base64 else "quoted-printable"

    def encode(self, body: bytes) -> bytes:
        if self.base64:
            return base64.encodebytes(body).replace(b"\n", _CRLF)
        return binascii.b2a_qp(body, istext=True).replace(b"\n", _CRLF)


def _header(name: str, value: str) -> bytes:
    """One header line, RFC 2047-encoded and folded when it is not plain ASCII or too long."""
    if value.isascii() and len(name) + len(value) < 76:
        return f"{name}: {value}".encode("ascii")
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}".encode("ascii")


def _address(value: str) -> str:
    name, addr = parseaddr(value)
    return formataddr((name, addr), charset="utf-8") if addr else value


def _domain(address: str) -> str:
    addr = parseaddr(address)[1]
    if "@" not in addr:
        raise ConfigError(f"sender {address!r} is not an email address", hint="set `sender` in the list file")
    return addr.rsplit("@", 1)[1]


class MessageFactory:
    """Personalised raw messages of one rendered issue for one list."""

    def __init__(
        self,
        rendered: RenderedIssue,
        mailing_list: MailingList,
        *,
        tokens: TokenMaker,
        public_url: str,
        view_url: str,
        unsubscribe_mailto: str | None = None,
    ) -> None:
        self.list = mailing_list
        self.tokens = tokens
        self.public_url = public_url.rstrip("/")
        self.view_url = view_url
        self.domain = _domain(mailing_list.sender)
        self.mailto = unsubscribe_mailto or parseaddr(mailing_list.reply_to or mailing_list.sender)[1]
        self.text = _Part(rendered.text, escape=False)
        self.html = _Part(rendered.html, escape=True)
        self.boundary = f"=_digest_{secrets.token_hex(12)}"  # "=" never occurs in QP or base64 lines
        fixed = [
            _header("From", _address(mailing_list.sender)),
            _header("Subject", rendered.subject),
            _header("List-Id", f"{mailing_list.title} <{mailing_list.id}.{self.domain}>"),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            b"MIME-Version: 1.0",
            f'Content-Type: multipart/alternative; boundary="{self.boundary}"'.encode("ascii"),
        ]
        if mailing_list.reply_to:
            fixed.insert(1, _header("Reply-To", _address(mailing_list.reply_to)))
        self.fixed_headers = _CRLF.join(fixed)
        self.text_head = self._part_head("text/plain", self.text)
        self.html_head = self._part_head("text/html", self.html)
        self.close = f"--{self.boundary}--".encode("ascii") + _CRLF

    def _part_head(self, mime: str, part: _Part) -> bytes:
        return _CRLF.join(
            [
                f"--{self.boundary}".encode("ascii"),
                f'Content-Type: {mime}; charset="utf-8"'.encode("ascii"),
                f"Content-Transfer-Encoding: {part.transfer_encoding}".encode("ascii"),
                b"",
                b"",
            ]
        )

    def links(self, email: str) -> Links:
        unsubscribe = self.tokens.make("unsubscribe", email, self.list.id)
        preferences = self.tokens.make("preferences", email, self.list.id)
        return Links(
            unsubscribe_url=f"{self.public_url}/unsubscribe?token={quote(unsubscribe, safe='')}",
            preferences_url=f"{self.public_url}/preferences?token={quote(preferences, safe='')}",
            view_url=self.view_url,
            email=email,
        )

    def build(self, email: str, name: str | None = None) -> bytes:
        """The raw RFC 5322 message (CRLF line ends) for one recipient."""
        links = self.links(email)
        mailto = f"mailto:{self.mailto}?subject={quote('unsubscribe ' + self.list.id)}"
        headers = [
            self.fixed_headers,
            _header("To", formataddr((name or "", email), charset="utf-8")),
            f"Date: {formatdate(usegmt=True)}".encode("ascii"),
            f"Message-ID: {make_msgid('digest', domain=self.domain)}".encode("ascii"),
            # RFC 2369 allows folding between the URIs; RFC 8058 needs the https one for one-click.
            f"List-Unsubscribe: <{links.unsubscribe_url}>,\r\n <{mailto}>".encode("ascii"),
            b"",
            b"",
        ]
        text = self.text.encode(self.text.fill(links))
        body = self.html.encode(self.html.fill(links))
        return b"".join([_CRLF.join(headers), self.text_head, text, _CRLF, self.html_head, body, _CRLF, self.close])
