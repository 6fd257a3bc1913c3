"""The dynamodb store's part for readers' preferences (the ``PreferenceStore`` protocol).

One item per member who made a choice, in the person's partition (so export and forget find it):
pk ``P#<email>``, sk ``R#<list>``, and in ``gsi1`` under ``R#<list>`` by email (a list's choices in one query).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from newsletter.errors import ConflictError
from newsletter.models import ReaderPreferences
from newsletter.preferences import describe
from newsletter.store.common import iso
from newsletter.store.dynamodb.connection import DynamoStoreBase, _av


def _doc(prefs: ReaderPreferences) -> str:
    return json.dumps(prefs.model_dump(mode="json", exclude_defaults=True), separators=(",", ":"))


def preference_item(email: str, list_id: str, prefs: ReaderPreferences, now: str) -> dict[str, Any]:
    return _av(pk=f"P#{email}", sk=f"R#{list_id}", gsi1pk=f"R#{list_id}", gsi1sk=email, doc=_doc(prefs), updated_at=now)


class Preferences(DynamoStoreBase):
    """Readers' own choices per list, written together with their consent event."""

    def set_preferences(self, email: str, list_id: str, prefs: ReaderPreferences, *, source: str) -> bool:
        table: str = self.table
        for _ in range(5):
            member: dict[str, Any] | None = self._get(f"P#{email}", f"M#{list_id}")
            if member is None:
                return False
            now = iso(self.clock())
            key = _av(pk=f"P#{email}", sk=f"R#{list_id}")
            if prefs.is_default:
                change: dict[str, Any] = {"Delete": {"TableName": table, "Key": key}}
            else:
                change = {"Put": {"TableName": table, "Item": preference_item(email, list_id, prefs, now)}}
            event = self._event(email, list_id, "preferences", member["status"], source, now, describe(prefs))
            # The membership must still be there when the choice is written (a concurrent remove wins).
            still = {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": _av(pk=f"P#{email}", sk=f"M#{list_id}"),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            }
            if self._transact([still, change, {"Put": {"TableName": table, "Item": event}}]):
                return True
        raise ConflictError(f"{email} on {list_id} keeps changing under us", hint="try again")

    def preferences(self, email: str, list_id: str) -> ReaderPreferences:
        item = self._get(f"P#{email}", f"R#{list_id}")
        return ReaderPreferences.model_validate_json(item["doc"]) if item else ReaderPreferences()

    def list_preferences(self, list_id: str) -> Iterator[tuple[str, ReaderPreferences]]:
        for item in self._query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues=_av(**{":p": f"R#{list_id}"}),
        ):
            yield item["gsi1sk"], ReaderPreferences.model_validate_json(item["doc"])
