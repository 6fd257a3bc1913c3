"""Consent: double opt-in, signed links, immediate unsubscribe, suppression, and forgetting a person.

Every change goes through the store's compare-and-set ``transition`` so that it is atomic and logged with a
timestamp and its source. Tokens are signed with ``NEWSLETTER_SECRET`` and bound to one address, one list and
one purpose, so that an unsubscribe link cannot confirm and a link for one person cannot touch another.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from newsletter.errors import DeliveryError, InputError, TokenError
from newsletter.store.base import (
    MemberStatus,
    RateLimits,
    Subscribers,
    SuppressionReason,
    Suppressions,
    Transition,
)
from newsletter.store.common import email_hash
from newsletter.tokens import PURPOSES, SECRET_HINT, TokenClaims, Tokens, check_secret

__all__ = ["PURPOSES", "SECRET_HINT", "TokenClaims", "Tokens", "check_secret"]  # where they were first defined

if TYPE_CHECKING:
    from newsletter.deliver.mailer import ConfirmationQueue
    from newsletter.models import MailingList

log = logging.getLogger("newsletter.subscriptions")

# At most one confirmation mail per address in this window, whatever the list and however often the form is sent.
CONFIRMATION_WINDOW = timedelta(minutes=10)


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


def read_link(store: SubscriberStore, tokens: Tokens, token: str, purpose: str) -> TokenClaims:
    """A verified link of ``purpose``, with the address its reference stands for looked up in the store. A link
    for someone no longer held (forgotten, removed) is a ``TokenError`` like a damaged one — except an
    unsubscribe link, which keeps ``email`` empty: leaving is done already, and its page says so as ever."""
    claims = tokens.read(token, purpose)
    if claims.email or claims.subject is None:  # a link from before references: it carries the address
        return claims
    found = store.address(claims.subject)
    if found is None and purpose == "unsubscribe":
        return claims
    if found is None:
        raise TokenError("this link is for a subscriber we no longer hold", hint="subscribe again")
    return dataclasses.replace(claims, email=found)


def confirm(store: SubscriberStore, tokens: Tokens, token: str, *, source: str) -> Subscribed:
    """pending → active, from a confirmation link; confirming twice is fine."""
    claims = read_link(store, tokens, token, "confirm")
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
    claims = read_link(store, tokens, token, "unsubscribe")
    if not claims.email:  # nobody held: nothing to change
        return Transition(before=None, after=None, changed=False)
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
    if not claims.email:  # nobody held (forgotten, removed): nothing to change, nothing to undo
        return None
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
    claims = read_link(store, tokens, token, "undo")
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
    mailer: ConfirmationQueue,
    mailing_list: MailingList,
    email: str,
    *,
    public_url: str,
    name: str | None = None,
    source: str,
) -> Subscribed | None:
    """Someone asked to join ``mailing_list`` (the web form): subscribe them as *pending* and hand the
    confirmation mail to ``mailer``, which sends it after the answer, paced with the send rate.

    Raises ``InputError`` for an invalid address only. Whatever the address's state (new, pending, active,
    unsubscribed, suppressed, asked again within the window) the request does the same work — the same store
    calls, a confirmation built and handed over (marked not to go when it must not) — so that neither the answer
    nor the time it takes tells a stranger anything about the address. A suppressed address gets ``None``.
    """
    from newsletter.deliver.confirmation import confirm_url, confirmation_message  # jinja2: only when mailing
    from newsletter.deliver.mailer import Confirmation
    from newsletter.deliver.message import wire_address

    email = normalise_email(email)
    suppressed = store.suppression(email) is not None
    # A suppressed address is asked about all the same (no status allows a change): the same store calls.
    change = store.transition(
        email,
        mailing_list.id,
        MemberStatus.PENDING,
        allowed_from=frozenset() if suppressed else frozenset({None, MemberStatus.UNSUBSCRIBED}),
        action="subscribed",
        source=source,
        uniform=True,
    )
    # Someone keeps asking for this address: one confirmation per window is enough for its owner, and a
    # stranger cannot turn the form into a way of flooding a mailbox (or of spending the send quota).
    fresh = store.take_slot(f"confirm:{email_hash(email)}", CONFIRMATION_WINDOW.total_seconds())
    go = not suppressed and change.after == MemberStatus.PENDING and fresh
    token = tokens.make("confirm", email, mailing_list.id, name=name)
    try:
        raw = confirmation_message(mailing_list, email, confirm_url(public_url, token))
        mailer.put(Confirmation(mailing_list.id, mailing_list.sender, wire_address(email), raw, go=go))
    except DeliveryError as err:
        # The same answer as when the mail was queued: what happened to it is nothing a stranger may learn.
        log.warning("confirmation not queued (%s): %s", type(err).__name__, err.message)
    if suppressed:
        log.info("subscribe: %s is suppressed; no confirmation", email)
        return None
    if not go:
        log.info("subscribe: no confirmation for %s (%s)", email, "asked again" if not fresh else change.after)
    return Subscribed(email, mailing_list.id, change, token if change.after == MemberStatus.PENDING else None)


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
