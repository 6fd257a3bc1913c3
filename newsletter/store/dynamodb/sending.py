"""DynamoStore: cache, send ledger, issue records, bounce events."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from newsletter.errors import ConflictError
from newsletter.store.base import (
    IssueRecord,
    IssueStatus,
    LedgerEntry,
    LedgerMark,
    LedgerState,
)
from newsletter.store.common import (
    iso,
    parse_iso,
)
from newsletter.store.dynamodb.connection import _CACHE_LIMIT, _SER, DynamoStoreBase, _av, _code, _num


class Sending(DynamoStoreBase):
    # Cache -----------------------------------------------------------------------------------------
    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        item = self._get(f"C#{kind}#{key}", "C")
        return json.loads(zlib.decompress(bytes(item["value"]))) if item else None

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        blob = zlib.compress(text.encode("utf-8"), 6)
        if len(blob) > _CACHE_LIMIT:
            return  # too large for one item: a later run recomputes it, which is what a cache miss means
        with self._aws():
            self._db.put_item(TableName=self.table, Item=_av(pk=f"C#{kind}#{key}", sk="C", value=blob))

    # Send ledger -----------------------------------------------------------------------------------
    def claim(self, issue_id: str, email: str, runner: str, *, lease_seconds: float) -> bool:
        now = self.clock()
        item = _av(
            pk=f"P#{email}",
            sk=f"S#{issue_id}",
            gsi1pk=f"S#{issue_id}",
            gsi1sk=email,
            issue_id=issue_id,
            email=email,
            state=LedgerState.RESERVED.value,
            runner=runner,
            updated_at=iso(now),
            ts=_num(now.timestamp()),
        )
        return self._put_if(
            item,
            "attribute_not_exists(pk) OR (#state = :reserved AND #ts <= :cutoff)",
            _av(**{":reserved": LedgerState.RESERVED.value, ":cutoff": _num(now.timestamp() - lease_seconds)}),
        )

    def claim_many(self, issue_id: str, emails: Sequence[str], runner: str, *, lease_seconds: float) -> set[str]:
        # DynamoDB has no conditional batch write (a transaction fails whole when one condition fails): one
        # conditional put each, as many as a campaign worker made before.
        return {e for e in emails if self.claim(issue_id, e, runner, lease_seconds=lease_seconds)}

    def mark_many(self, issue_id: str, runner: str, marks: Sequence[LedgerMark]) -> set[str]:
        lost: set[str] = set()
        for email, state, message_id, reason in marks:
            try:
                self.mark(issue_id, email, runner, state, message_id=message_id, reason=reason)
            except ConflictError:
                lost.add(email)
        return lost

    def mark(
        self,
        issue_id: str,
        email: str,
        runner: str,
        state: LedgerState,
        *,
        message_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        now = self.clock()
        update = "SET #state = :state, updated_at = :at, #ts = :ts"
        values = _av(**{":state": LedgerState(state).value, ":at": iso(now), ":ts": _num(now.timestamp())})
        values[":runner"] = _SER.serialize(runner)
        if message_id is not None:
            update += ", message_id = :mid"
            values[":mid"] = _SER.serialize(message_id)
        if reason is not None:
            update += ", reason = :reason"
            values[":reason"] = _SER.serialize(reason)
        else:
            update += " REMOVE reason"
        with self._aws():
            try:
                self._db.update_item(
                    TableName=self.table,
                    Key=_av(pk=f"P#{email}", sk=f"S#{issue_id}"),
                    UpdateExpression=update,
                    ConditionExpression="#runner = :runner",
                    ExpressionAttributeNames={"#state": "state", "#ts": "ts", "#runner": "runner"},
                    ExpressionAttributeValues=values,
                )
            except ClientError as err:
                if _code(err) == "ConditionalCheckFailedException":
                    raise ConflictError(f"send ledger: {runner} does not hold {issue_id} → {email}") from None
                raise

    def release(self, issue_id: str, email: str, runner: str) -> None:
        """No-op when ``runner`` no longer holds a RESERVED entry (its lease was taken over, or it moved on)."""
        with self._aws():
            try:
                self._db.delete_item(
                    TableName=self.table,
                    Key=_av(pk=f"P#{email}", sk=f"S#{issue_id}"),
                    ConditionExpression="#runner = :runner AND #state = :reserved",
                    ExpressionAttributeNames={"#runner": "runner", "#state": "state"},
                    ExpressionAttributeValues=_av(**{":runner": runner, ":reserved": LedgerState.RESERVED.value}),
                )
            except ClientError as err:
                if _code(err) != "ConditionalCheckFailedException":
                    raise

    def reclaim(self, issue_id: str, email: str, runner: str, *, from_runner: str) -> bool:
        now = self.clock()
        values = _av(
            **{
                ":reserved": LedgerState.RESERVED.value,
                ":sending": LedgerState.SENDING.value,
                ":at": iso(now),
                ":ts": _num(now.timestamp()),
            }
        )
        values[":runner"] = _SER.serialize(runner)
        values[":from"] = _SER.serialize(from_runner)
        with self._aws():
            try:
                self._db.update_item(
                    TableName=self.table,
                    Key=_av(pk=f"P#{email}", sk=f"S#{issue_id}"),
                    UpdateExpression="SET #state = :reserved, #runner = :runner, updated_at = :at, #ts = :ts",
                    ConditionExpression="#state = :sending AND #runner = :from",
                    ExpressionAttributeNames={"#state": "state", "#ts": "ts", "#runner": "runner"},
                    ExpressionAttributeValues=values,
                )
            except ClientError as err:
                if _code(err) == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def entries(self, issue_id: str) -> Iterator[LedgerEntry]:
        for item in self._query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues=_av(**{":p": f"S#{issue_id}"}),
            Limit=self.page_size,
        ):
            yield _ledger(item)

    def entry(self, issue_id: str, email: str) -> LedgerEntry | None:
        item = self._get(f"P#{email}", f"S#{issue_id}")
        return _ledger(item) if item else None

    # Issue records ---------------------------------------------------------------------------------
    def create_issue(self, record: IssueRecord) -> bool:
        return self._put_if(_issue_item(record), "attribute_not_exists(pk)")

    def get_issue(self, issue_id: str) -> IssueRecord | None:
        item = self._get(f"I#{issue_id}", "I")
        return IssueRecord.model_validate_json(item["doc"]) if item else None

    def update_issue(self, record: IssueRecord, *, expected: IssueStatus) -> bool:
        # The status beside the doc is what the condition reads. A record written before it had one (only
        # ever prepared or sending then) is taken as it is, once: the write gives it one.
        condition = "#status = :expected OR (attribute_exists(pk) AND attribute_not_exists(#status))"
        return self._put_if(_issue_item(record), condition, _av(**{":expected": expected.value}))

    def finish_batch(self, issue_id: str, batch: int) -> int:
        # A number set: adding a batch twice (SQS delivers at least once) counts it once, atomically.
        with self._aws():
            answer = self._db.update_item(
                TableName=self.table,
                Key=_av(pk=f"I#{issue_id}", sk="B"),
                UpdateExpression="ADD done :b",
                ExpressionAttributeValues={":b": {"NS": [str(batch)]}},
                ReturnValues="ALL_NEW",  # UPDATED_NEW leaves the set out when the batch was already in it
            )
        return len(answer.get("Attributes", {}).get("done", {}).get("NS", []))

    def batches_done(self, issue_id: str) -> int:
        item = self._get(f"I#{issue_id}", "B")
        return len(item["done"]) if item and "done" in item else 0

    # Bounce events ---------------------------------------------------------------------------------
    def first_time(self, notification_id: str) -> bool:
        item = _av(pk=f"N#{notification_id}", sk="N", at=iso(self.clock()))
        return self._put_if(item, "attribute_not_exists(pk)")

    def take_slot(self, key: str, seconds: float) -> bool:
        now = self.clock().timestamp()
        item = _av(pk=f"R#{key}", sk="R", ts=Decimal(f"{now:.3f}"))
        values = _av(**{":cutoff": Decimal(f"{now - seconds:.3f}")})
        return self._put_if(item, "attribute_not_exists(pk) OR #ts <= :cutoff", values)

    def record_soft_bounce(self, email: str, at: datetime) -> list[datetime]:
        with self._aws():
            self._db.put_item(TableName=self.table, Item=_av(pk=f"P#{email}", sk=f"B#{iso(at)}", at=iso(at)))
        bounces = self._query(
            KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
            ExpressionAttributeValues=_av(**{":p": f"P#{email}", ":b": "B#"}),
            ConsistentRead=True,
        )
        return [parse_iso(b["at"]) for b in bounces]


def _ledger(item: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        issue_id=item["issue_id"],
        email=item["email"],
        state=item["state"],
        runner=item["runner"],
        updated_at=parse_iso(item["updated_at"]),
        message_id=item.get("message_id"),
        reason=item.get("reason"),
    )


def _issue_item(record: IssueRecord) -> dict[str, Any]:
    return _av(pk=f"I#{record.issue_id}", sk="I", doc=record.model_dump_json(), status=record.status.value)
