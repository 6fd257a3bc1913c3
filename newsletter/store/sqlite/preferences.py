"""The sqlite store's part for readers' preferences (the ``PreferenceStore`` protocol)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from newsletter.models import ReaderPreferences
from newsletter.preferences import describe
from newsletter.store.common import iso
from newsletter.store.sqlite.connection import SqliteStoreBase


def dump(prefs: ReaderPreferences) -> str:
    return json.dumps(prefs.model_dump(mode="json", exclude_defaults=True), separators=(",", ":"))


class Preferences(SqliteStoreBase):
    """Readers' own choices per list (the ``preferences`` table), logged like every change of consent."""

    def set_preferences(self, email: str, list_id: str, prefs: ReaderPreferences, *, source: str) -> bool:
        now = iso(self.clock())
        with self._tx() as db:
            row = db.execute("SELECT status FROM members WHERE list_id = ? AND email = ?", (list_id, email)).fetchone()
            if row is None:
                return False
            if prefs.is_default:
                db.execute("DELETE FROM preferences WHERE list_id = ? AND email = ?", (list_id, email))
            else:
                db.execute(
                    "INSERT INTO preferences (list_id, email, doc, updated_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (list_id, email) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
                    (list_id, email, dump(prefs), now),
                )
            self._log(db, email, list_id, "preferences", row[0], source, now, detail=describe(prefs))
        return True

    def preferences(self, email: str, list_id: str) -> ReaderPreferences:
        with self._guard() as db:
            row = db.execute("SELECT doc FROM preferences WHERE list_id = ? AND email = ?", (list_id, email)).fetchone()
        return ReaderPreferences.model_validate_json(row[0]) if row else ReaderPreferences()

    def list_preferences(self, list_id: str) -> Iterator[tuple[str, ReaderPreferences]]:
        sql = "SELECT email, doc FROM preferences WHERE list_id = ? AND email > ? ORDER BY email LIMIT ?"
        for email, doc in self._pages(sql, (list_id,)):
            yield email, ReaderPreferences.model_validate_json(doc)
