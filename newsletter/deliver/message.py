"""One issue → one MIME message per recipient, fast.

MJML runs once per issue (render stage); here the rendered HTML and text are split once around the
``Placeholder`` tokens and each recipient's message is a join of those pieces plus a handful of headers.
Both parts are base64 (compact for CJK, and it lets the static bulk be encoded once per issue, see ``_Part``),
which is what keeps preparing a message well under a millisecond.
"""

from __future__ import annotations

import binascii
import functools
import html
import re
import secrets
import time
from collections.abc import Sequence
from email.header import Header
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Protocol
from urllib.parse import quote

import idna

from newsletter.errors import ConfigError, PermanentDeliveryError
from newsletter.models import MailingList, Placeholder, RenderedIssue
from newsletter.store.base import Recipient

_PLACEHOLDER = re.compile("|".join(re.escape(p.value) for p in Placeholder))
_CRLF = b"\r\n"
_LEGACY_VIEW_URL = "%%view_url%%"
# Static pieces shorter than this are encoded per recipient with the values next to them.
_INLINE = 256


class TokenMaker(Protocol):
    """What ``newsletter.subscriptions.Tokens`` offers: a signed token for one purpose, address and list."""

    def make(self, purpose: str, email: str, list_id: str) -> str: ...

    def make_many(self, purposes: Sequence[str], email: str, list_id: str) -> list[str]: ...


class Links:
    """The per-recipient values filled into the placeholders: as given (``value``), as the text part writes them
    (``raw``) and as the HTML part does (``escaped``). Both forms are made up front, each once per message: a
    ``functools.cached_property`` takes a lock that every instance shares (Python 3.11), on which the sending
    threads queued."""

    __slots__ = ("email", "escaped", "preferences_url", "raw", "unsubscribe_url")

    def __init__(self, unsubscribe_url: str, preferences_url: str, email: str) -> None:
        self.unsubscribe_url = unsubscribe_url
        self.preferences_url = preferences_url
        self.email = email
        values = self.values()
        self.raw = {p: value.encode("utf-8") for p, value in values.items()}
        self.escaped = {p: html.escape(value, quote=True).encode("utf-8") for p, value in values.items()}

    def values(self) -> dict[Placeholder, str]:
        return {
            Placeholder.UNSUBSCRIBE_URL: self.unsubscribe_url,
            Placeholder.PREFERENCES_URL: self.preferences_url,
            Placeholder.EMAIL: self.email,
        }

    def value(self, placeholder: Placeholder) -> str:
        return self.values()[placeholder]


def _b64_lines(data: bytes) -> bytes:
    """Base64 in lines of at most 76 characters (RFC 2045), CRLF between lines, none after the last."""
    flat = binascii.b2a_base64(data, newline=False)
    return _CRLF.join([flat[i : i + 76] for i in range(0, len(flat), 76)])


class _Part:
    """A body split once around its placeholders, its static pieces base64-encoded once per issue.

    Base64 encodes 3-byte groups independently, and RFC 2045 only bounds line length, so a recipient's
    body is the issue's pre-encoded pieces with short freshly-encoded seams around the substituted values.
    Each static piece is pre-encoded for the three ways it can line up with a group (the bytes that the
    values before it leave over). This keeps a 100 KB part at a few microseconds per recipient instead
    of re-encoding and re-wrapping all of it.
    """

    def __init__(self, text: str, *, escape: bool) -> None:
        text = text.replace("\r\n", "\n")
        pieces: list[str] = []
        self.slots: list[Placeholder] = []
        last = 0
        for match in _PLACEHOLDER.finditer(text):
            pieces.append(text[last : match.start()])
            self.slots.append(Placeholder(match.group(0)))
            last = match.end()
        pieces.append(text[last:])
        self.escape = escape
        self.pieces = [piece.encode("utf-8") for piece in pieces]
        # aligned[k][t]: piece k when t bytes of it complete the group left open before it:
        # (those t bytes, the encoded whole groups after them, the 0-2 bytes left over). None for a short piece
        # (the markup between two links): it is encoded with the values around it, one seam instead of three.
        self.aligned: list[list[tuple[bytes, bytes, bytes]] | None] = []
        for piece in self.pieces:
            if len(piece) < _INLINE:
                self.aligned.append(None)
                continue
            options = []
            for t in range(3):
                head = piece[:t]
                whole = (len(piece) - len(head)) // 3 * 3
                middle = piece[len(head) : len(head) + whole]
                options.append((head, _b64_lines(middle) if middle else b"", piece[len(head) + whole :]))
            self.aligned.append(options)

    def values(self, links: Links) -> list[bytes]:
        table = links.escaped if self.escape else links.raw
        return [table[slot] for slot in self.slots]

    def chunks(self, links: Links) -> list[bytes]:
        """This recipient's body, base64 in CRLF lines ending with CRLF, in pieces (most of them the issue's own,
        shared) for the message to join once."""
        values = self.values(links)
        out: list[bytes] = []
        carry = b""  # bytes not encoded yet: values, short pieces, and what a long piece left over
        for k, piece in enumerate(self.pieces):
            options = self.aligned[k]
            need = (3 - len(carry)) % 3
            if options is None or len(piece) < need:
                carry += piece
            else:
                head, middle, tail = options[need]
                if carry or head:
                    out.append(_b64_lines(carry + head))
                if middle:
                    out.append(middle)
                carry = tail
            if k < len(values):
                carry += values[k]
        if carry:
            out.append(_b64_lines(carry))
        lines = [_CRLF] * (2 * len(out))
        lines[::2] = out
        return lines


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _header(name: str, value: str) -> bytes:
    """One header line, RFC 2047-encoded and folded when it is not plain ASCII or too long. Line breaks and
    other control characters (a name from a form or a CSV, a headline from a commit) become one space, so
    that no value can end its header and start another."""
    value = _CONTROL.sub(" ", value)
    if value.isascii() and len(name) + len(value) < 76:
        return f"{name}: {value}".encode("ascii")
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}".encode("ascii")


@functools.lru_cache(maxsize=4)
def _date(second: int) -> bytes:
    """The Date header of every message made in that second (formatdate shows no fractions)."""
    return f"Date: {formatdate(second, usegmt=True)}".encode("ascii")


def wire_address(address: str) -> str:
    """The address as it travels: an internationalised domain in its ASCII (IDNA) form, the local part as it is.
    The store keeps the Unicode form people typed (``müller.de``); SMTP without SMTPUTF8, SES and every header
    need ``xn--mller-kva.de``. Raises PermanentDeliveryError for a domain IDNA cannot write."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError as err:
        raise PermanentDeliveryError(f"the domain of {address} has no ASCII form: {err}") from None


def needs_smtputf8(address: str) -> bool:
    """A non-ASCII local part (``josé@…``) can only travel with SMTPUTF8 (RFC 6531), whatever the domain."""
    return not wire_address(address).isascii()


def _address(value: str) -> str:
    """A configured From/Reply-To header value with its domain in ASCII; a non-ASCII local part is refused."""
    name, addr = parseaddr(value)
    if not addr:
        return value
    try:
        wire = wire_address(addr)
    except PermanentDeliveryError as err:
        raise ConfigError(err.message, hint="set `sender` and `reply_to` in the list file") from None
    if not wire.isascii():
        raise ConfigError(
            f"{addr!r} has non-ASCII characters before the @", hint="use an ASCII address as `sender` and `reply_to`"
        )
    return formataddr((name, wire), charset="utf-8")


def _recipient(name: str | None, wire: str) -> bytes:
    """The To: header. An ASCII address is formatted as usual (the name RFC 2047-encoded); a non-ASCII local
    part is only ever sent with SMTPUTF8, whose messages carry UTF-8 headers as they are (RFC 6532)."""
    if wire.isascii():
        return _header("To", formataddr((name or "", wire), charset="utf-8"))
    display = _CONTROL.sub(" ", name or "").replace("\\", "\\\\").replace('"', '\\"')
    return (f'To: "{display}" <{wire}>' if display else f"To: {wire}").encode("utf-8")


def _domain(address: str) -> str:
    addr = parseaddr(address)[1]
    if "@" not in addr:
        raise ConfigError(f"sender {address!r} is not an email address", hint="set `sender` in the list file")
    return parseaddr(_address(address))[1].rsplit("@", 1)[1]


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
        self.mailto = parseaddr(_address(unsubscribe_mailto or mailing_list.reply_to or mailing_list.sender))[1]
        self.mailto_url = f"mailto:{self.mailto}?subject={quote('unsubscribe ' + mailing_list.id)}"
        # Issues rendered before the web address went into the render carry it as a placeholder: filled once.
        self.text = _Part(rendered.text.replace(_LEGACY_VIEW_URL, view_url), escape=False)
        self.html = _Part(rendered.html.replace(_LEGACY_VIEW_URL, html.escape(view_url, quote=True)), escape=True)
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
                b"Content-Transfer-Encoding: base64",
                b"",
                b"",
            ]
        )

    def links(self, email: str) -> Links:
        # Tokens are URL-safe base64 and dots, which URLs carry as they are (quote(token, safe="") is the token).
        unsubscribe, preferences = self.tokens.make_many(("unsubscribe", "preferences"), email, self.list.id)
        return Links(
            unsubscribe_url=f"{self.public_url}/unsubscribe?token={unsubscribe}",
            preferences_url=f"{self.public_url}/preferences?token={preferences}",
            email=email,
        )

    def build_for(self, recipient: Recipient) -> bytes:
        return self.build(recipient.email, recipient.name)

    def build(self, email: str, name: str | None = None) -> bytes:
        """The raw RFC 5322 message (CRLF line ends) for one recipient: addressed to ``wire_address(email)``,
        while the links name the address as stored. Raises PermanentDeliveryError when it cannot be written."""
        links = self.links(email)
        headers = [
            self.fixed_headers,
            _recipient(name, wire_address(email)),
            _date(int(time.time())),
            f"Message-ID: {make_msgid('digest', domain=self.domain)}".encode("ascii"),
            # RFC 2369 allows folding between the URIs; RFC 8058 needs the https one for one-click.
            f"List-Unsubscribe: <{links.unsubscribe_url}>,\r\n <{self.mailto_url}>".encode("ascii"),
            b"",
            b"",
        ]
        # One join into the message: its ~100-300 KB are copied once, not once per part and again per message.
        pieces = [_CRLF.join(headers), self.text_head, *self.text.chunks(links), self.html_head]
        pieces += self.html.chunks(links)
        pieces.append(self.close)
        return b"".join(pieces)
