"""No addresses in logs: every address in a record of the ``newsletter`` loggers becomes an opaque id.

Logs outlive ``forget`` (CloudWatch, journald, a terminal's scrollback) and cannot be erased per person, so an
address never enters them. The id is a keyed hash (HMAC-SHA-256 with ``NEWSLETTER_SECRET`` once the secret is
known), stable across runs, so that an operator can still follow one reader through the logs and find the
line for an address they were given (``newsletter.logs.address_id``), but not read addresses out of them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading

# Wide on purpose: anything shaped like local@domain.tld, including IDN and quoted-looking local parts.
_ADDRESS = re.compile(r"[^\s<>\"'(),;:\[\]]+@[^\s<>\"'(),;:\[\]]+\.[^\s<>\"'(),;:\[\]]+")
_key = b"newsletter-log-ids"
_lock = threading.Lock()
_installed = False


def set_key(secret: str) -> None:
    """Key the ids with the deployment's secret (called where the secret is first needed)."""
    global _key
    _key = ("newsletter-log-ids:" + secret).encode("utf-8")


def address_id(address: str) -> str:
    digest = hmac.new(_key, address.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()
    return f"addr:{digest[:12]}"


def redact(text: str) -> str:
    return _ADDRESS.sub(lambda m: address_id(m.group(0).rstrip(".")), text)


def install() -> None:
    """Redact every record made by a ``newsletter`` logger, whatever handler (Lambda's, the CLI's, a test's)
    later formats it. A record factory, because a logger's filters do not apply to its child loggers."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)  # type: ignore[arg-type]
            if record.name == "newsletter" or record.name.startswith("newsletter."):
                record.msg = redact(record.getMessage())
                record.args = ()
                if record.exc_info:  # a traceback's messages name addresses too (formatted once, here)
                    record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
