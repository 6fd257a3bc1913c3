"""SMTP (any server, including SES's SMTP interface): one connection per worker thread, reused."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import threading
import uuid
from email.utils import parseaddr

from newsletter.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError


class SmtpSender:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: str = "starttls",  # starttls | tls | none
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port, self.tls, self.timeout = host, port, tls, timeout
        self.username, self.password = username, password
        self.context = ssl_context or ssl.create_default_context()
        self._local = threading.local()
        self._all: list[smtplib.SMTP] = []
        self._lock = threading.Lock()

    def _connect(self) -> smtplib.SMTP:
        try:
            if self.tls == "tls":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.context)
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            conn.ehlo()
            if self.tls == "starttls":
                conn.starttls(context=self.context)
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as err:
            raise DeliveryError(
                f"the SMTP server {self.host} refused the login: {err.smtp_code}",
                hint="check SMTP_USERNAME and SMTP_PASSWORD",
            ) from err
        except smtplib.SMTPNotSupportedError as err:
            raise DeliveryError(
                f"the SMTP server {self.host} does not offer STARTTLS", hint="set SMTP_TLS=tls or none"
            ) from err
        except (OSError, smtplib.SMTPException) as err:
            raise TransientDeliveryError(f"cannot connect to SMTP {self.host}:{self.port}: {err}") from err
        with self._lock:
            self._all.append(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def send(self, raw: bytes, *, sender: str, recipient: str) -> str:
        reused = getattr(self._local, "conn", None) is not None
        try:
            return self._send(raw, sender=sender, recipient=recipient)
        except TransientDeliveryError as err:
            # A kept connection that the server closed since (idle timeout: a long-running `newsletter serve`
            # sends a confirmation now and then): once more, on a new connection.
            if not reused or not isinstance(err.__cause__, smtplib.SMTPServerDisconnected | ConnectionError):
                raise
            return self._send(raw, sender=sender, recipient=recipient)

    def _send(self, raw: bytes, *, sender: str, recipient: str) -> str:
        conn = getattr(self._local, "conn", None) or self._connect()
        self._local.conn = conn
        envelope_from = _bare(sender)
        try:
            refused = conn.sendmail(envelope_from, [recipient], raw)
        except smtplib.SMTPRecipientsRefused as err:
            code, reply = err.recipients.get(recipient, (550, b"refused"))
            if code == 421:  # the server closes the session with this reply: the next message needs a new one
                self._drop()
            raise _classify(code, reply, recipient) from err
        except smtplib.SMTPSenderRefused as err:
            if err.smtp_code >= 500:
                raise DeliveryError(
                    f"the SMTP server refused the sender {envelope_from}: {err.smtp_code}", hint="check `sender`"
                ) from err
            raise _classify(err.smtp_code, err.smtp_error, recipient) from err
        except smtplib.SMTPResponseException as err:
            if err.smtp_code == 421:  # the server is closing this session
                self._drop()
            raise _classify(err.smtp_code, err.smtp_error, recipient) from err
        except (OSError, smtplib.SMTPException) as err:
            self._drop()
            raise TransientDeliveryError(f"SMTP connection to {self.host} failed: {err}") from err
        if refused:
            code, reply = refused[recipient]
            raise _classify(code, reply, recipient)
        # SMTP has no provider id in its reply in general; ours identifies the hand-over.
        return f"smtp-{uuid.uuid4().hex}"

    def max_send_rate(self) -> float | None:
        return None

    def describe(self) -> str:
        return f"SMTP {self.host}:{self.port} ({self.tls})"

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()


def _bare(address: str) -> str:
    return parseaddr(address)[1] or address


def _classify(code: int, reply: bytes | str, recipient: str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    message = f"SMTP refused {recipient}: {code} {text}".strip()
    if 400 <= code < 500:
        return TransientDeliveryError(message)
    return PermanentDeliveryError(message)
