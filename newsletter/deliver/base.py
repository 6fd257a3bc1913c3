"""The one interface every mail provider implements."""

from __future__ import annotations

from typing import Protocol


class Sender(Protocol):
    """Hands one raw RFC 5322 message to a provider.

    ``send`` returns the provider's message id, or raises ``TransientDeliveryError`` (try again later:
    throttling, 4xx/5xx of the service, connection trouble before the message was handed over),
    ``PermanentDeliveryError`` (this message or recipient is refused for good, or cannot be carried at all) or
    ``AmbiguousDeliveryError`` (handed over, answer lost: never retried on its own). ``recipient`` is the wire
    form (``message.wire_address``); one that is not ASCII needs SMTPUTF8. Implementations are safe to call
    from several threads at once.
    """

    name: str

    def send(self, raw: bytes, *, sender: str, recipient: str) -> str: ...

    def max_send_rate(self) -> float | None:
        """The provider's own ceiling in messages per second, when it has one and says so."""
        ...

    def describe(self) -> str:
        """Where messages go, for people: a folder, a server, a region."""
        ...

    def close(self) -> None: ...
