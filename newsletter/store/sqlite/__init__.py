"""SQLite backend: the embedded default, one file in the per-user data folder.

Races between runs (two processes on one file, or two threads) are settled by SQLite itself: single-statement
conditional writes (``INSERT … ON CONFLICT … DO UPDATE … WHERE``) for the send ledger and issue records, and
``BEGIN IMMEDIATE`` transactions (one writer at a time) for read-then-write changes of a membership.
"""

from newsletter.store.sqlite.people import People
from newsletter.store.sqlite.preferences import Preferences
from newsletter.store.sqlite.sending import Sending

__all__ = ["SqliteStore"]


class SqliteStore(People, Preferences, Sending):
    """The whole store: subscribers, consent and suppressions (``people``); readers' own choices
    (``preferences``); the cache, the send ledger, issue
    records and bounce events (``sending``); one connection and its helpers (``connection``)."""
