"""SMTP (any server, including SES's SMTP interface): one connection per worker thread, reused."""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
import threading
import uuid
from email.utils import parseaddr

from newsletter.errors import AmbiguousDeliveryError, DeliveryError, PermanentDeliveryError, TransientDeliveryError

_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


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
        options: list[str] = []
        if not recipient.isascii():
            if not conn.has_extn("smtputf8"):
                raise PermanentDeliveryError(
                    f"the SMTP server {self.host} does not offer SMTPUTF8, which {recipient} needs"
                    " (non-ASCII characters before the @)"
                )
            options.append("SMTPUTF8")
        handed_over = False
        try:
            self._envelope(conn, envelope_from, recipient, options)
            code, reply = conn.docmd("data")
            if code != 354:
                raise smtplib.SMTPDataError(code, reply)
            conn.send(_dot_stuffed(raw))
            # From here on the server holds the whole message: only its answer can say whether it took it.
            handed_over = True
            code, reply = conn.getreply()
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
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
            if handed_over:
                raise AmbiguousDeliveryError(
                    f"SMTP {self.host} took the message to {recipient} but its answer was lost: {err or 'timeout'}"
                ) from err
            raise TransientDeliveryError(f"SMTP connection to {self.host} failed: {err}") from err
        # SMTP has no provider id in its reply in general; ours identifies the hand-over.
        return f"smtp-{uuid.uuid4().hex}"

    @staticmethod
    def _envelope(conn: smtplib.SMTP, envelope_from: str, recipient: str, options: list[str]) -> None:
        """MAIL FROM and RCPT TO, as ``sendmail`` does them, so that DATA can be told apart from what precedes it."""
        code, reply = conn.mail(envelope_from, options)
        if code != 250:
            _reset(conn)
            raise smtplib.SMTPSenderRefused(code, reply, envelope_from)
        code, reply = conn.rcpt(recipient)
        if code not in (250, 251):
            _reset(conn)
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})

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


def _reset(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError, smtplib.SMTPException):
        conn.rset()


def _dot_stuffed(raw: bytes) -> bytes:
    """The DATA payload: leading dots doubled, CRLF line ends, and the lone dot that ends it (RFC 5321 4.5.2)."""
    body = _LEADING_DOT.sub(b"..", raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


def _bare(address: str) -> str:
    return parseaddr(address)[1] or address


def _classify(code: int, reply: bytes | str, recipient: str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    message = f"SMTP refused {recipient}: {code} {text}".strip()
    if 400 <= code < 500:
        return TransientDeliveryError(message)
    return PermanentDeliveryError(message)
