"""The one place where configuration chooses implementations (store, analyzer, sender, archive).

Everything else receives a ready object that satisfies a small protocol and never looks at a URL scheme
or a backend name again.
"""

from __future__ import annotations

from urllib.parse import urlparse

from newsletter.config import Settings
from newsletter.errors import ConfigError
from newsletter.store.sqlite import SqliteStore


def open_store(settings: Settings) -> SqliteStore:
    url = urlparse(settings.store_url)
    if url.scheme == "sqlite":
        # sqlite:///abs/path → "/abs/path"; sqlite:///:memory: → ":memory:"
        path = url.path if url.path != "/:memory:" else ":memory:"
        return SqliteStore(path)
    raise ConfigError(
        f"NEWSLETTER_STORE={settings.store_url!r} has an unknown scheme",
        hint="use sqlite:///path/to/file.db",
    )
