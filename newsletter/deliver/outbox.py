"""The embedded default: each message becomes one ``.eml`` file in a folder (open it in any mail client)."""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

from newsletter.errors import DeliveryError

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


class OutboxSender:
    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, raw: bytes, *, sender: str, recipient: str) -> str:
        message_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(6)}"
        target = self.path_for(message_id, recipient)
        partial = target.with_name(f".{target.name}.part")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # Written aside, then renamed: a reader of the folder never sees half a message.
            with open(partial, "wb") as handle:
                handle.write(raw)
            os.replace(partial, target)
        except OSError as err:
            raise DeliveryError(f"cannot write {target}: {err}", hint="check NEWSLETTER_OUTBOX") from err
        return message_id

    def path_for(self, message_id: str, recipient: str) -> Path:
        """The file a message sent to ``recipient`` under ``message_id`` was written to."""
        return self.folder / f"{message_id}-{_UNSAFE.sub('_', recipient)[:80]}.eml"

    def max_send_rate(self) -> float | None:
        return None

    def describe(self) -> str:
        return f"outbox {self.folder}"

    def close(self) -> None:
        return None
