"""DynamoStore: subscribers, recipients, suppressions, a person."""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from newsletter.errors import ConflictError
from newsletter.models import ReaderPreferences
from newsletter.preferences import describe
from newsletter.store.base import (
    BatchOutcome,
    ConsentEvent,
    Member,
    MemberStatus,
    Recipient,
    Suppression,
    SuppressionReason,
    Transition,
)
from newsletter.store.common import (
    LEDGER_FIELDS,
    MEMBERSHIP_FIELDS,
    email_hash,
    first_names,
    iso,
    parse_iso,
    person_export,
    sort_batch,
)
from newsletter.store.dynamodb.connection import _SER, DynamoStoreBase, _av
from newsletter.store.dynamodb.preferences import preference_item


class People(DynamoStoreBase):
    # Subscribers -----------------------------------------------------------------------------------
    def get_member(self, email: str, list_id: str) -> Member | None:
        item = self._get(f"P#{email}", f"M#{list_id}")
        return _member(item) if item else None

    def transition(
        self,
        email: str,
        list_id: str,
        to: MemberStatus,
        *,
        allowed_from: frozenset[MemberStatus | None],
        action: str,
        source: str,
        name: str | None = None,
        uniform: bool = False,
    ) -> Transition:
        for _ in range(5):
            current = self._get(f"P#{email}", f"M#{list_id}")
            before = MemberStatus(current["status"]) if current else None
            unchanged = before not in allowed_from or before == to
            if unchanged and not uniform:
                return Transition(before=before, after=before, changed=False)
            now = iso(self.clock())
            member = _membership(
                email,
                list_id,
                to,
                name=name or (current or {}).get("name"),
                source=source,
                created_at=(current or {}).get("created_at", now),
                updated_at=now,
            )
            condition: dict[str, Any] = (
                {"ConditionExpression": "attribute_not_exists(pk)"}
                if current is None and not unchanged
                else {
                    "ConditionExpression": "#status = :before",
                    "ExpressionAttributeNames": {"#status": "status"},
                    # unchanged (``uniform``): the same transaction, with a condition no item meets
                    "ExpressionAttributeValues": _av(**{":before": before.value if before and not unchanged else "-"}),
                }
            )
            profile_set = (
                "SET email = :e, created_at = if_not_exists(created_at, :now), updated_at = :now,"
                " gsi1pk = :h, gsi1sk = :p"
            )
            profile_values = _av(**{":e": email, ":now": now, ":h": f"H#{email_hash(email)}", ":p": "PROFILE"})
            if name:
                profile_set += ", #name = :name"
                profile_values[":name"] = _SER.serialize(name)
            items = [
                {"Put": {"TableName": self.table, "Item": member, **condition}},
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": _av(pk=f"P#{email}", sk="PROFILE"),
                        "UpdateExpression": profile_set,
                        "ExpressionAttributeValues": profile_values,
                        **({"ExpressionAttributeNames": {"#name": "name"}} if name else {}),
                    }
                },
                {"Put": {"TableName": self.table, "Item": self._event(email, list_id, action, to.value, source, now)}},
            ]
            if self._transact(items) and not unchanged:
                return Transition(before=before, after=to, changed=True)
            if unchanged:
                return Transition(before=before, after=before, changed=False)
        raise ConflictError(f"{email} on {list_id} keeps changing under us", hint="try again")

    def address(self, email_hash: str) -> str | None:
        for item in self._query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :h",
            ExpressionAttributeValues=_av(**{":h": f"H#{email_hash}"}),
            Limit=1,
        ):
            return str(item["email"])
        return None

    def index_profiles(self) -> int:
        """Put every profile written before profiles were indexed by address hash into the index (idempotent);
        returns how many were added."""
        args: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "sk = :p AND attribute_not_exists(gsi1pk)",
            "ExpressionAttributeValues": _av(**{":p": "PROFILE"}),
            "ProjectionExpression": "pk, email",
        }
        added = 0
        while True:
            with self._aws():
                page = self._db.scan(**args)
            for item in page.get("Items", []):
                email = item["email"]["S"]
                with self._aws():
                    self._db.update_item(
                        TableName=self.table,
                        Key=_av(pk=f"P#{email}", sk="PROFILE"),
                        UpdateExpression="SET gsi1pk = :h, gsi1sk = :p",
                        ExpressionAttributeValues=_av(**{":h": f"H#{email_hash(email)}", ":p": "PROFILE"}),
                    )
                added += 1
            if "LastEvaluatedKey" not in page:
                return added
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def remove_member(self, email: str, list_id: str, *, source: str) -> bool:
        now = iso(self.clock())
        return self._transact(
            [
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": _av(pk=f"P#{email}", sk=f"M#{list_id}"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {"Put": {"TableName": self.table, "Item": self._event(email, list_id, "removed", None, source, now)}},
                {"Delete": {"TableName": self.table, "Key": _av(pk=f"P#{email}", sk=f"R#{list_id}")}},
            ]
        )

    def add_members(
        self,
        rows: list[tuple[str, str | None]],
        list_id: str,
        *,
        status: MemberStatus,
        source: str,
        preferences: Mapping[str, ReaderPreferences] | None = None,
    ) -> BatchOutcome:
        if not rows:
            return BatchOutcome()
        names = first_names(rows)
        hashes = {email_hash(e): e for e in names}
        keys = [(f"P#{e}", f"M#{list_id}") for e in names]
        keys += [(f"P#{e}", "PROFILE") for e in names]
        keys += [(f"X#{h}", "X") for h in hashes]
        found = self._batch_get(keys)
        present = {i["email"] for i in found if i["sk"].startswith("M#")}
        profiles = {i["email"] for i in found if i["sk"] == "PROFILE"}
        suppressed = {hashes[i["pk"][2:]] for i in found if i["sk"] == "X"}
        outcome = sort_batch(rows, present, suppressed)
        now = iso(self.clock())
        writes: list[dict[str, Any]] = []
        for email in outcome.added:
            name = names[email]
            if email not in profiles:
                profile = _profile(email, name=name, created_at=now, updated_at=now)
                writes.append({"PutRequest": {"Item": profile}})
            member = _membership(email, list_id, status, name=name, source=source, created_at=now, updated_at=now)
            writes.append({"PutRequest": {"Item": member}})
            event = self._event(email, list_id, "imported", status.value, source, now)
            writes.append({"PutRequest": {"Item": event}})
            prefs = (preferences or {}).get(email)
            if prefs is not None and not prefs.is_default:
                writes.append({"PutRequest": {"Item": preference_item(email, list_id, prefs, now)}})
                event = self._event(email, list_id, "preferences", status.value, source, now, describe(prefs))
                writes.append({"PutRequest": {"Item": event}})
        self._batch_write(writes)
        return outcome

    def _status_members(self, list_id: str, status: MemberStatus) -> Iterator[dict[str, Any]]:
        return self._query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues=_av(**{":p": f"L#{list_id}#{status.value}"}),
            Limit=self.page_size,
        )

    def members(self, list_id: str, status: MemberStatus | None = None) -> Iterator[Member]:
        statuses = [status] if status else list(MemberStatus)
        streams = [self._status_members(list_id, s) for s in statuses]
        for item in heapq.merge(*streams, key=lambda i: i["email"]):
            yield _member(item)

    def count_members(self, list_id: str) -> dict[MemberStatus, int]:
        counts = {}
        for status in MemberStatus:
            args: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :p",
                "ExpressionAttributeValues": _av(**{":p": f"L#{list_id}#{status.value}"}),
                "Select": "COUNT",
            }
            total = 0
            while True:
                with self._aws():
                    page = self._db.query(**args)
                total += page["Count"]
                if "LastEvaluatedKey" not in page:
                    break
                args["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            counts[status] = total
        return counts

    # Recipients ------------------------------------------------------------------------------------
    def active_recipients(self, list_id: str) -> Iterator[Recipient]:
        page: list[dict[str, Any]] = []
        for item in self._status_members(list_id, MemberStatus.ACTIVE):
            page.append(item)
            if len(page) == self.page_size:
                yield from self._unsuppressed(page, list_id)
                page = []
        yield from self._unsuppressed(page, list_id)

    def _unsuppressed(self, page: list[dict[str, Any]], list_id: str) -> Iterator[Recipient]:
        if not page:
            return
        hashes = {i["pk"][2:] for i in self._batch_get([(f"X#{email_hash(m['email'])}", "X") for m in page])}
        for m in page:
            if email_hash(m["email"]) not in hashes:
                yield Recipient(email=m["email"], name=m.get("name"), list_id=list_id)

    def still_active(self, list_id: str, emails: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(emails))
        if not wanted:
            return set()
        keys = [(f"P#{e}", f"M#{list_id}") for e in wanted] + [(f"X#{email_hash(e)}", "X") for e in wanted]
        found = self._batch_get(keys)  # consistent reads: an unsubscribe a moment ago counts
        active = {i["email"] for i in found if i["sk"].startswith("M#") and i["status"] == MemberStatus.ACTIVE.value}
        suppressed = {i["pk"][2:] for i in found if i["sk"] == "X"}
        return {e for e in active if email_hash(e) not in suppressed}

    # Suppressions ----------------------------------------------------------------------------------
    def suppress(self, email: str, reason: str, source: str) -> None:
        reason = SuppressionReason(reason).value
        now = iso(self.clock())
        mark = _av(pk=f"X#{email_hash(email)}", sk="X", reason=reason, source=source, at=now)
        event = self._event(email, None, "suppressed", None, source, now, detail=reason)
        self._transact(
            [{"Put": {"TableName": self.table, "Item": mark}}, {"Put": {"TableName": self.table, "Item": event}}]
        )

    def is_suppressed(self, email: str) -> bool:
        return self.suppression(email) is not None

    def suppression(self, email: str) -> Suppression | None:
        item = self._get(f"X#{email_hash(email)}", "X")
        return Suppression(reason=item["reason"], source=item["source"], at=parse_iso(item["at"])) if item else None

    def unsuppress(self, email: str, *, source: str) -> bool:
        now = iso(self.clock())
        return self._transact(
            [
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": _av(pk=f"X#{email_hash(email)}", sk="X"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {"Put": {"TableName": self.table, "Item": self._event(email, None, "unsuppressed", None, source, now)}},
            ]
        )

    # A person --------------------------------------------------------------------------------------
    def person(self, email: str) -> dict[str, Any]:
        profile, memberships, events, bounces, ledger = None, [], [], [], []
        preferences: dict[str, Any] = {}
        for item in self._query(
            KeyConditionExpression="pk = :p", ExpressionAttributeValues=_av(**{":p": f"P#{email}"}), ConsistentRead=True
        ):
            kind = item["sk"].split("#", 1)[0]
            if kind == "PROFILE":
                profile = {k: item.get(k) for k in ("name", "created_at", "updated_at")}
            elif kind == "M":
                memberships.append({k: item.get(k) for k in MEMBERSHIP_FIELDS})
            elif kind == "E":
                events.append(
                    ConsentEvent.model_validate({**item, "at": parse_iso(item["at"])}).model_dump(
                        mode="json", exclude={"email"}
                    )
                )
            elif kind == "B":
                bounces.append(item["at"])
            elif kind == "S":
                ledger.append({k: item.get(k) for k in LEDGER_FIELDS})
            elif kind == "R":
                preferences[item["sk"][2:]] = json.loads(item["doc"])
        return person_export(
            email,
            profile=profile,
            memberships=memberships,
            suppression=self.suppression(email),
            consent_log=events,
            soft_bounces=bounces,
            send_ledger=ledger,
            preferences=preferences,
        )

    def erase_person(self, email: str) -> int:
        keys = [
            {"DeleteRequest": {"Key": _av(pk=i["pk"], sk=i["sk"])}}
            for i in self._query(
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues=_av(**{":p": f"P#{email}"}),
                ProjectionExpression="pk, sk",
                ConsistentRead=True,
            )
        ]
        self._batch_write(keys)
        return len(keys)


def _profile(email: str, *, name: str | None, created_at: str, updated_at: str) -> dict[str, Any]:
    """A person's profile item: in their partition, and in the index under the hash of the address."""
    return _av(
        pk=f"P#{email}",
        sk="PROFILE",
        gsi1pk=f"H#{email_hash(email)}",
        gsi1sk="PROFILE",
        email=email,
        name=name,
        created_at=created_at,
        updated_at=updated_at,
    )


def _membership(
    email: str, list_id: str, status: MemberStatus, *, name: str | None, source: str, created_at: str, updated_at: str
) -> dict[str, Any]:
    """A membership item: in the person's partition, and in the index under its list and status."""
    return _av(
        pk=f"P#{email}",
        sk=f"M#{list_id}",
        gsi1pk=f"L#{list_id}#{status.value}",
        gsi1sk=email,
        email=email,
        list_id=list_id,
        status=status.value,
        name=name,
        source=source,
        created_at=created_at,
        updated_at=updated_at,
    )


def _member(item: dict[str, Any]) -> Member:
    return Member(
        email=item["email"],
        list_id=item["list_id"],
        status=item["status"],
        name=item.get("name"),
        source=item["source"],
        created_at=parse_iso(item["created_at"]),
        updated_at=parse_iso(item["updated_at"]),
    )
