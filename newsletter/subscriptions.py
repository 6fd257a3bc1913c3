"""Consent: double opt-in, signed links, immediate unsubscribe, suppression, and forgetting a person.

Every change goes through the store's compare-and-set ``transition`` so that it is atomic and logged with a
timestamp and its source. Tokens are signed with ``NEWSLETTER_SECRET`` and bound to one address, one list and
one purpose, so that an unsubscribe link cannot confirm and a link for one person cannot touch another.
"""

from __future__ import annotations

import base64
import functools
import hmac
import json
import logging
import math
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from newsletter.errors import ConfigError, DeliveryError, InputError, TokenError
from newsletter.store.base import (
    MemberStatus,
    RateLimits,
    Subscribers,
    SuppressionReason,
    Suppressions,
    Transition,
)
from newsletter.store.common import email_hash

if TYPE_CHECKING:
    from newsletter.deliver.base import Sender
    from newsletter.models import MailingList

log = logging.getLogger("newsletter.subscriptions")

# How long each kind of link stays valid; None: for ever (an unsubscribe link must work in a years-old mail).
PURPOSES: dict[str, timedelta | None] = {
    "confirm": timedelta(days=7),
    "unsubscribe": None,
    "preferences": None,
    # Issued by the unsubscribe result page only, and good only while that unsubscribe is the latest change.
    "undo": timedelta(hours=1),
}
# At most one confirmation mail per address in this window, whatever the list and however often the form is sent.
CONFIRMATION_WINDOW = timedelta(minutes=10)
_LABEL = {"confirm": "confirmation", "unsubscribe": "unsubscribe", "preferences": "preferences", "undo": "undo"}


class SubscriberStore(Subscribers, Suppressions, RateLimits, Protocol):
    """What this module needs from a store (both backends provide it)."""


# A plain ASCII local part (RFC 5322 dot-atom): valid as it is, and the same after normalisation.
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@functools.lru_cache(maxsize=4096)
def _domain(domain: str) -> tuple[str, int] | str:
    """The normalised form of a domain and the longer of its UTF-8 and ASCII (IDNA) forms in bytes, or why it
    is not one. The domain check (UTS-46 mapping, IDNA) is most of an address's validation, and a list's
    addresses share a few domains."""
    # email-validator compiles its grammar on import: a start that validates no address (a Lambda cold start
    # for a tick, the CLI's help) does not pay for it.
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(f"x@{domain}", check_deliverability=False)
    except EmailNotValidError as err:
        return str(err)
    return checked.domain, max(len(checked.domain.encode()), len(checked.ascii_domain))


def normalise_email(text: str) -> str:
    """The address as the store keys it: validated (syntax only, no DNS), IDNA-normalised domain, and
    lower-cased as a whole — nobody runs a mailbox whose local part differs only in case, and treating
    Foo@ and foo@ as two people would let one unsubscribe leave the other one mailed."""
    text = text.strip()
    local, at, domain = text.rpartition("@")
    if at and len(local) <= 64 and _PLAIN_LOCAL.fullmatch(local):
        forms = _domain(domain)
        if isinstance(forms, str):
            raise InputError(f"invalid address {text!r}: {forms}")
        # email-validator's limit: 254 bytes of UTF-8, as typed, normalised and with the ASCII domain
        normalised, longest = forms
        typed = len(text) if text.isascii() else len(text.encode())
        if typed <= 254 and len(local) + 1 + longest <= 254:
            return f"{local}@{normalised}".lower()
    from email_validator import EmailNotValidError, validate_email

    try:  # anything else (quoted or non-ASCII local parts, lengths at the limits): the whole check
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as err:
        raise InputError(f"invalid address {text!r}: {err}") from None


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


def _b64(data: bytes) -> bytes:
    """itsdangerous' URL-safe base64: no padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@dataclass(frozen=True)
class TokenClaims:
    email: str
    list_id: str
    purpose: str
    issued_at: datetime
    name: str | None = None  # a confirmation link carries the name given with the request, applied on confirming
    extra: dict[str, str] | None = None  # an undo link: the status before and the time of the unsubscribe


class Tokens:
    """Signed, URL-safe tokens. ``clock`` (seconds since the epoch) exists so that tests can age a token."""

    def __init__(self, secret: str, *, clock: Callable[[], float] = time.time) -> None:
        check_secret(secret)

        class _Signer(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock())

        self._clock = clock
        self._by_purpose = {p: URLSafeTimedSerializer(secret, salt=f"newsletter.{p}", signer=_Signer) for p in PURPOSES}
        self._keys = {p: serializer.make_signer().derive_key() for p, serializer in self._by_purpose.items()}

    def make(
        self, purpose: str, email: str, list_id: str, *, name: str | None = None, extra: dict[str, str] | None = None
    ) -> str:
        payload: dict[str, object] = {"e": email, "l": list_id} | ({"n": name} if name else {})
        if extra:
            payload["x"] = extra
        self._serializer(purpose)  # a known purpose
        # The purpose's URLSafeTimedSerializer.dumps(payload), written out: a campaign signs two links per
        # message, and the library's general path (a signer and a key derived per call, HMAC in pure Python)
        # cost more than the rest of the message. tests/test_subscriptions.py holds it to the library's own
        # tokens, byte for byte; reading goes through the library.
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        packed = zlib.compress(data)
        body = b"." + _b64(packed) if len(packed) < len(data) - 1 else _b64(data)
        value = body + b"." + _b64(int(self._clock()).to_bytes(8, "big").lstrip(b"\x00"))
        return (value + b"." + _b64(hmac.digest(self._keys[purpose], value, "sha1"))).decode("ascii")

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
        if not (isinstance(payload, dict) and isinstance(payload.get("e"), str) and isinstance(payload.get("l"), str)):
            raise TokenError(f"this {label} link carries no address and list")
        name = payload.get("n") if isinstance(payload.get("n"), str) else None
        extra = payload.get("x") if isinstance(payload.get("x"), dict) else None
        return TokenClaims(
            email=payload["e"], list_id=payload["l"], purpose=purpose, issued_at=signed, name=name, extra=extra
        )

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        if purpose not in self._by_purpose:
            raise ValueError(f"unknown token purpose {purpose!r}")
        return self._by_purpose[purpose]


@dataclass(frozen=True)
class Subscribed:
    email: str
    list_id: str
    transition: Transition
    token: str | None  # a confirmation token when the membership is (still) pending


def subscribe(
    store: SubscriberStore,
    tokens: Tokens | None,
    email: str,
    list_id: str,
    *,
    name: str | None = None,
    source: str,
    confirmed: bool = False,
    override: bool = False,
) -> Subscribed:
    """Double opt-in: a new or unsubscribed member becomes *pending* and gets a confirmation token.

    ``confirmed`` (an operator vouching for consent given elsewhere) makes the member *active* at once; it
    never re-subscribes someone who unsubscribed unless ``override``. Otherwise ``name`` is not stored now:
    anyone can ask to subscribe any address, and a name taken from such a request would rename an existing
    reader (and stand in the To: of their next issue). It rides in the confirmation link instead, and is taken
    when the owner of the address confirms, if they have no name yet. A suppressed address (bounced,
    complained, manual) is refused unless ``override``, which lifts the suppression and logs who did it.
    """
    email = normalise_email(email)
    suppression = store.suppression(email)
    if suppression and not override:
        raise InputError(
            f"{email} is suppressed ({suppression.reason.value} on {suppression.at:%Y-%m-%d}, by {suppression.source})",
            hint="pass --override only if the person asked to subscribe again",
        )
    if suppression:
        store.unsuppress(email, source=source)
    if confirmed:
        allowed = {None, MemberStatus.PENDING} | ({MemberStatus.UNSUBSCRIBED} if override else set())
        change = store.transition(
            email,
            list_id,
            MemberStatus.ACTIVE,
            allowed_from=frozenset(allowed),
            action="added",
            source=source,
            name=name,
        )
        if change.after == MemberStatus.UNSUBSCRIBED:
            raise InputError(
                f"{email} unsubscribed from {list_id}; an operator cannot re-subscribe them",
                hint="they can subscribe again themselves, or pass --override if they asked you to",
            )
        return Subscribed(email, list_id, change, None)
    change = store.transition(
        email,
        list_id,
        MemberStatus.PENDING,
        allowed_from=frozenset({None, MemberStatus.UNSUBSCRIBED}),
        action="subscribed",
        source=source,
    )
    pending = tokens and change.after == MemberStatus.PENDING
    token = tokens.make("confirm", email, list_id, name=name) if pending else None
    return Subscribed(email, list_id, change, token)


def confirm(store: SubscriberStore, tokens: Tokens, token: str, *, source: str) -> Subscribed:
    """pending → active, from a confirmation link; confirming twice is fine."""
    claims = tokens.read(token, "confirm")
    known = store.get_member(claims.email, claims.list_id)
    change = store.transition(
        claims.email,
        claims.list_id,
        MemberStatus.ACTIVE,
        allowed_from=frozenset({MemberStatus.PENDING}),
        action="confirmed",
        source=source,
        name=claims.name if claims.name and not (known and known.name) else None,
    )
    if change.after is None:
        raise InputError(f"{claims.email} has no subscription to {claims.list_id} to confirm (it was removed)")
    if change.after == MemberStatus.UNSUBSCRIBED:
        raise InputError(
            f"{claims.email} unsubscribed from {claims.list_id} after this link was sent",
            hint="subscribe again to get a new link",
        )
    return Subscribed(claims.email, claims.list_id, change, None)


def unsubscribe(store: SubscriberStore, email: str, list_id: str, *, source: str) -> Transition:
    """Immediate and idempotent: the next send already skips the address. Not a member: nothing changes."""
    return store.transition(
        normalise_email(email),
        list_id,
        MemberStatus.UNSUBSCRIBED,
        allowed_from=frozenset({MemberStatus.PENDING, MemberStatus.ACTIVE}),
        action="unsubscribed",
        source=source,
    )


def unsubscribe_by_token(store: SubscriberStore, tokens: Tokens, token: str, *, source: str) -> Transition:
    claims = tokens.read(token, "unsubscribe")
    return unsubscribe(store, claims.email, claims.list_id, source=source)


def suppress(store: SubscriberStore, email: str, reason: str, *, source: str) -> str:
    """Never mail ``email`` again, on any list (it wins over every membership)."""
    try:
        why = SuppressionReason(reason)
    except ValueError:
        choices = ", ".join(r.value for r in SuppressionReason)
        raise InputError(f"unknown suppression reason {reason!r}", hint=f"use one of {choices}") from None
    email = normalise_email(email)
    store.suppress(email, why.value, source)
    return email


def forget(store: SubscriberStore, email: str, write: Callable[[str], None]) -> int:
    """Export everything held about a person through ``write`` (JSON), then erase it; a failing ``write``
    erases nothing. A suppression stays, held only as a hash of the address, so that an old list imported
    again can never mail them."""
    email = normalise_email(email)
    write(json.dumps(store.person(email), ensure_ascii=False, indent=2, default=str))
    return int(store.erase_person(email))


def unsubscribe_from_link(store: SubscriberStore, tokens: Tokens, claims: TokenClaims, *, source: str) -> str | None:
    """Unsubscribe the member a verified unsubscribe link names. Returns an undo token when this request made
    the change: it restores the status from before (a pending member stays pending: undo never confirms), for
    an hour, and only while this unsubscribe is still the member's latest change."""
    change = unsubscribe(store, claims.email, claims.list_id, source=source)
    if not change.changed or change.before is None:
        return None
    member = store.get_member(normalise_email(claims.email), claims.list_id)
    if member is None:
        return None
    mark = {"was": change.before.value, "at": member.updated_at.isoformat(), "by": source}
    return tokens.make("undo", member.email, claims.list_id, extra=mark)


def undo_unsubscribe(store: SubscriberStore, tokens: Tokens, token: str, *, source: str) -> TokenClaims:
    """Undo the web unsubscribe an undo token was issued for; any later change (the CLI, a new subscribe, a
    second unsubscribe) voids it, as does its age."""
    claims = tokens.read(token, "undo")
    mark = claims.extra or {}
    member = store.get_member(claims.email, claims.list_id)
    latest = (
        member is not None
        and member.status == MemberStatus.UNSUBSCRIBED
        and member.updated_at.isoformat() == mark.get("at")
        and member.source == mark.get("by")
    )
    try:
        was = MemberStatus(mark.get("was", ""))
    except ValueError:
        latest = False
    if not latest or was == MemberStatus.UNSUBSCRIBED:
        raise TokenError("this undo link no longer applies: the subscription changed since", hint="subscribe again")
    store.transition(
        claims.email,
        claims.list_id,
        was,
        allowed_from=frozenset({MemberStatus.UNSUBSCRIBED}),
        action="resubscribed",
        source=source,
    )
    return claims


def set_lists(
    store: SubscriberStore, email: str, wanted: set[str], offered: set[str], *, source: str
) -> dict[str, Transition]:
    """The preferences form: of the ``offered`` lists, be on exactly ``wanted``; lists not offered are
    untouched. Leaving is immediate. Joining makes the member *pending*: a preferences link never expires and
    may be forwarded or old, so a new list, like any other subscribe, waits for a confirmation link."""
    email = normalise_email(email)
    changes = {}
    for list_id in sorted(offered):
        if list_id in wanted:
            changes[list_id] = store.transition(
                email,
                list_id,
                MemberStatus.PENDING,
                allowed_from=frozenset({None, MemberStatus.UNSUBSCRIBED}),
                action="subscribed",
                source=source,
            )
        else:
            changes[list_id] = unsubscribe(store, email, list_id, source=source)
    return changes


def request_subscription(
    store: SubscriberStore,
    tokens: Tokens,
    sender: Sender,
    mailing_list: MailingList,
    email: str,
    *,
    public_url: str,
    name: str | None = None,
    source: str,
) -> Subscribed | None:
    """Someone asked to join ``mailing_list`` (the web form): subscribe them as *pending* and mail the
    confirmation link through the list's ``sender``.

    Raises ``InputError`` for an invalid address only. A suppressed address gets ``None`` and no mail, and the
    caller answers exactly as for anyone else, so that the answer tells a stranger nothing about the address.
    """
    from newsletter.deliver.confirmation import confirm_url, confirmation_message  # jinja2: only when mailing
    from newsletter.deliver.message import wire_address

    email = normalise_email(email)
    try:
        done = subscribe(store, tokens, email, mailing_list.id, name=name, source=source)
    except InputError as err:
        log.info("subscribe refused: %s", err.message)
        return None
    if done.token and not store.take_slot(f"confirm:{email_hash(email)}", CONFIRMATION_WINDOW.total_seconds()):
        # Someone keeps asking for this address: one confirmation per window is enough for its owner, and a
        # stranger cannot turn the form into a way of flooding a mailbox (or of spending the send quota).
        log.info("confirmation for %s not sent again within %s", email, CONFIRMATION_WINDOW)
    elif done.token:
        try:
            raw = confirmation_message(mailing_list, email, confirm_url(public_url, done.token))
            sender.send(raw, sender=mailing_list.sender, recipient=wire_address(email))
        except DeliveryError as err:
            # The same answer as when the mail went out: what happened to it is nothing a stranger may learn.
            log.warning("confirmation not sent (%s): %s", type(err).__name__, err.message)
    return done


def preferences(
    store: SubscriberStore, email: str, offered: Collection[str], *, wanted: Collection[str] | None = None, source: str
) -> dict[str, bool]:
    """The preferences page of ``email``: when a form was submitted (``wanted``), first be on exactly those of
    the ``offered`` lists (names not offered are ignored); then, per offered list, whether ``email`` is an
    active member."""
    if wanted is not None:
        set_lists(store, email, {w for w in wanted if w in offered}, set(offered), source=source)
    current = {}
    for list_id in offered:
        member = store.get_member(email, list_id)
        current[list_id] = member is not None and member.status == MemberStatus.ACTIVE
    return current
