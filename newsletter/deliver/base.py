"""The one interface every mail provider implements."""

from __future__ import annotations

from typing import Protocol


class Sender(Protocol):
    """Hands one raw RFC 5322 message to a provider.

    ``send`` returns the provider's message id, or raises ``TransientDeliveryError`` (try again later:
    throttling, 4xx/5xx of the service, connection trouble) or ``PermanentDeliveryError`` (this message or
    recipient is refused for good). Implementations are safe to call from several threads at once.
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
