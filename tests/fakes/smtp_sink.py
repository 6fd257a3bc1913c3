"""A real SMTP server (aiosmtpd) on 127.0.0.1, ephemeral port, recording what it accepts."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address → SMTP reply for RCPT TO
    sender_reply: str | None = None  # a refusal for every MAIL FROM
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        if self.sender_reply:
            return self.sender_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.received.append(
                Received(
                    str(envelope.mail_from),
                    list(envelope.rcpt_tos),
                    bytes(envelope.original_content or b""),
                    time.monotonic(),
                )
            )
        return "250 Message accepted for delivery"


class SmtpSink:
    """``with SmtpSink() as sink: sink.port`` — aiosmtpd's SMTP protocol served from a private event loop.
    ``idle_timeout``: seconds after which the server closes an idle session (real servers: a few minutes)."""

    def __init__(self, *, idle_timeout: float = 300) -> None:
        self.idle_timeout = idle_timeout
        self.handler = _Handler()
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def refuse(self, address: str, reply: str) -> None:
        self.handler.refuse[address] = reply

    def refuse_sender(self, reply: str) -> None:
        self.handler.sender_reply = reply

    def __enter__(self) -> SmtpSink:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            self.loop.create_server(
                lambda: SMTP(self.handler, hostname="sink.test", timeout=self.idle_timeout), "127.0.0.1", 0
            ),
            self.loop,
        )
        self._server = future.result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        async def _close() -> None:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(_close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
