"""Signed links: what each kind (purpose) may do for how long, the secret that signs them, and the opaque
reference to the subscriber they carry.

A link is signed with ``NEWSLETTER_SECRET`` and bound to one subscriber, one list and one purpose. It carries the
subscriber as a reference (``Tokens.reference``: the store's hash of the address, encrypted with the secret), not
the address: a link in a log, a proxy or a forwarded mail does not show whom it is for, and after ``forget`` it
leads nowhere. ``subscriptions.read_link`` looks the reference up in the store. Links issued before references
carry the address itself and still work for their lifetime (unsubscribe and preferences links: for ever).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from newsletter.errors import ConfigError, TokenError
from newsletter.store.common import email_hash

# How long each kind of link stays valid; None: for ever (an unsubscribe link must work in a years-old mail).
PURPOSES: dict[str, timedelta | None] = {
    "confirm": timedelta(days=7),
    "unsubscribe": None,
    "preferences": None,
    # Issued by the unsubscribe result page only, and good only while that unsubscribe is the latest change.
    "undo": timedelta(hours=1),
}
_LABEL = {"confirm": "confirmation", "unsubscribe": "unsubscribe", "preferences": "preferences", "undo": "undo"}


SECRET_HINT = "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))' (and keep it stable)"
MIN_SECRET_BYTES = 32
MIN_SECRET_BITS = 128  # estimated; secrets.token_urlsafe(32) scores about 200, a repeated word far less


def check_secret(secret: str) -> str:
    """``secret`` when it can sign links nobody can forge: at least 32 bytes that look random. A short or
    patterned secret ("password", a word repeated) falls to a dictionary in seconds, and with it every link."""
    data = secret.strip()
    if len(data.encode("utf-8")) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"NEWSLETTER_SECRET is too short ({len(data.encode('utf-8'))} bytes; at least {MIN_SECRET_BYTES})",
            hint=SECRET_HINT,
        )
    counts = Counter(data)
    # Shannon entropy of its characters times its length, scaled by the share of its three-character pieces
    # that are distinct: a cheap estimate that a word, a repeated pattern ("0123456789" * 4) or a run of one
    # character fails, and any random string of this length passes.
    trigrams = [data[i : i + 3] for i in range(len(data) - 2)]
    bits = -sum(n * math.log2(n / len(data)) for n in counts.values()) * len(set(trigrams)) / len(trigrams)
    if bits < MIN_SECRET_BITS:
        raise ConfigError(
            f"NEWSLETTER_SECRET does not look random (about {bits:.0f} bits; at least {MIN_SECRET_BITS})",
            hint=SECRET_HINT,
        )
    return secret


def _xor(a: bytes, b: bytes) -> bytes:
    """Two byte strings of the same length XORed, as one integer operation."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _mac(keyed: hmac.HMAC, data: bytes) -> bytes:
    """The HMAC of ``data`` from a keyed object, copied. ``hmac.digest`` lets go of the interpreter lock on every
    call, so a campaign's sending threads handed it over four times per message; a copy does not, for short input."""
    mac = keyed.copy()
    mac.update(data)
    return mac.digest()


# The encoder json.dumps(payload, ensure_ascii=False, separators=(",", ":")) would build on every call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _b64(data: bytes) -> bytes:
    """itsdangerous' URL-safe base64: no padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@dataclass(frozen=True)
class TokenClaims:
    email: str  # "" until the link's reference is looked up in the store (``subscriptions.read_link``)
    list_id: str
    purpose: str
    issued_at: datetime
    name: str | None = None  # a confirmation link carries the name given with the request, applied on confirming
    extra: dict[str, str] | None = None  # an undo link: the status before and the time of the unsubscribe
    subject: str | None = None  # the hash of the address (the store's key for it) a reference stands for


class Tokens:
    """Signed, URL-safe tokens. ``clock`` (seconds since the epoch) exists so that tests can age a token."""

    def __init__(self, secret: str, *, clock: Callable[[], float] = time.time) -> None:
        check_secret(secret)

        class _Signer(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock())

        self._clock = clock
        self._by_purpose = {p: URLSafeTimedSerializer(secret, salt=f"newsletter.{p}", signer=_Signer) for p in PURPOSES}
        self._signers = {
            p: hmac.new(serializer.make_signer().derive_key(), digestmod="sha1")
            for p, serializer in self._by_purpose.items()
        }
        pad_key = hmac.new(secret.encode("utf-8"), b"newsletter.subscriber-ref.pad", hashlib.sha256).digest()
        iv_key = hmac.new(secret.encode("utf-8"), b"newsletter.subscriber-ref.iv", hashlib.sha256).digest()
        self._pad = hmac.new(pad_key, digestmod="sha256")
        self._iv = hmac.new(iv_key, digestmod="sha256")

    def reference(self, email: str) -> str:
        """The opaque id a link carries instead of the address: the store's hash of the address, encrypted with
        a key from the secret (a synthetic IV, so that one address always gets the same reference and nobody
        without the secret can test a guessed address against it). 64 URL-safe characters."""
        digest = bytes.fromhex(email_hash(email))
        iv = _mac(self._iv, digest)[:16]
        pad = _mac(self._pad, iv)
        return base64.urlsafe_b64encode(iv + _xor(digest, pad)).decode("ascii")

    def _subject(self, reference: str) -> str | None:
        """The address hash a reference stands for, or None when it is not one of ours."""
        try:
            raw = base64.urlsafe_b64decode(reference.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return None
        if len(raw) != 48:
            return None
        iv, sealed = raw[:16], raw[16:]
        pad = _mac(self._pad, iv)
        digest = _xor(sealed, pad)
        if not hmac.compare_digest(_mac(self._iv, digest)[:16], iv):
            return None
        return digest.hex()

    def make(
        self, purpose: str, email: str, list_id: str, *, name: str | None = None, extra: dict[str, str] | None = None
    ) -> str:
        return self.make_many((purpose,), email, list_id, name=name, extra=extra)[0]

    def make_many(
        self,
        purposes: Sequence[str],
        email: str,
        list_id: str,
        *,
        name: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> list[str]:
        """One token per purpose for the same subscriber, list and moment. The payload names no purpose (the
        purpose is in the signing key), so it is written and compressed once and only signed per purpose: every
        message of a campaign carries two links."""
        for purpose in purposes:
            self._serializer(purpose)  # a known purpose
        # "r": an opaque reference to the subscriber (links issued before it carry the address itself, "e")
        payload: dict[str, object] = {"r": self.reference(email), "l": list_id} | ({"n": name} if name else {})
        if extra:
            payload["x"] = extra
        # URLSafeTimedSerializer.dumps(payload), written out: a campaign signs two links per message, and the
        # library's general path (a signer and a key derived per call, HMAC in pure Python) cost more than the
        # rest of the message. tests/test_subscriptions.py holds it to the library's own tokens, byte for byte;
        # reading goes through the library.
        data = _JSON.encode(payload).encode("utf-8")
        packed = zlib.compress(data)
        body = b"." + _b64(packed) if len(packed) < len(data) - 1 else _b64(data)
        value = body + b"." + _b64(int(self._clock()).to_bytes(8, "big").lstrip(b"\x00"))
        return [(value + b"." + _b64(_mac(self._signers[p], value))).decode("ascii") for p in purposes]

    def read(self, token: str, purpose: str) -> TokenClaims:
        serializer = self._serializer(purpose)
        label = _LABEL[purpose]
        max_age = PURPOSES[purpose]
        token = token.strip()
        try:
            payload, signed = serializer.loads(
                token, max_age=max_age.total_seconds() if max_age else None, return_timestamp=True
            )
        except SignatureExpired as err:
            when = f" on {err.date_signed + max_age:%Y-%m-%d %H:%M} UTC" if err.date_signed and max_age else ""
            raise TokenError(
                f"this {label} link expired{when} (links are valid for {max_age.days if max_age else '?'} days)",
                hint="subscribe again to get a new link",
            ) from None
        except BadData:
            for other, other_serializer in self._by_purpose.items():
                if other == purpose:
                    continue
                try:
                    other_serializer.loads(token)
                except BadData:
                    continue
                raise TokenError(f"this is an {_LABEL[other]} link, not a {label} link") from None
            raise TokenError(
                f"this {label} link is damaged or was not issued by us (its signature does not match)",
                hint="copy the whole link from the email",
            ) from None
        if not (isinstance(payload, dict) and isinstance(payload.get("l"), str)):
            raise TokenError(f"this {label} link carries no list")
        email = payload.get("e") if isinstance(payload.get("e"), str) else ""
        subject = self._subject(payload["r"]) if isinstance(payload.get("r"), str) else None
        if not email and subject is None:
            raise TokenError(f"this {label} link names nobody")
        name = payload.get("n") if isinstance(payload.get("n"), str) else None
        extra = payload.get("x") if isinstance(payload.get("x"), dict) else None
        return TokenClaims(
            email=email,
            list_id=payload["l"],
            purpose=purpose,
            issued_at=signed,
            name=name,
            extra=extra,
            subject=subject,
        )

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        if purpose not in self._by_purpose:
            raise ValueError(f"unknown token purpose {purpose!r}")
        return self._by_purpose[purpose]
