"""DynamoDB backend (boto3): one table per deployment, ``<prefix>-store``, on-demand billing.

Single-table design, chosen so that everything about one person sits in one partition (``P#<email>``):
exporting or forgetting a person is one Query and one batch of deletes, with no scan.

=================  ===================  ======================  =======================  ==========
item               pk                   sk                      gsi1pk                   gsi1sk
=================  ===================  ======================  =======================  ==========
profile            ``P#<email>``        ``PROFILE``
membership         ``P#<email>``        ``M#<list>``            ``L#<list>#<status>``    email
consent event      ``P#<email>``        ``E#<at>#<ns><random>``
soft bounce        ``P#<email>``        ``B#<at>``
send ledger        ``P#<email>``        ``S#<issue>``           ``S#<issue>``            email
suppression        ``X#<sha256(email)>`` ``X``
issue record       ``I#<issue>``        ``I``
SES notification   ``N#<id>``           ``N``
cache              ``C#<kind>#<key>``   ``C``
=================  ===================  ======================  =======================  ==========

The index ``gsi1`` lists a list's members of one status in email order (recipients, ``ls``, counts) and
an issue's ledger entries. Races are settled with ConditionExpression on the base table: the ledger claim,
issue creation, notification de-duplication and every membership change (compare-and-set on the status,
written together with its consent event in one transaction). Imports use BatchGetItem then BatchWriteItem,
which has no conditions: an address that is absent when the batch is read and created by someone else in
the milliseconds before the batch is written would be overwritten; imports are an operator's action.
"""

from __future__ import annotations

import heapq
import json
import re
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from newsletter.errors import ConflictError, StoreError
from newsletter.store.base import (
    BatchOutcome,
    ConsentEvent,
    IssueRecord,
    LedgerEntry,
    LedgerState,
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
    Clock,
    email_hash,
    first_names,
    iso,
    parse_iso,
    person_export,
    sort_batch,
    utcnow,
)

_CACHE_LIMIT = 350_000  # DynamoDB items stop at 400 KB; a cache may simply miss larger values
_SER = TypeSerializer()
_DES = TypeDeserializer()


def _av(**values: Any) -> dict[str, Any]:
    """A DynamoDB item from plain values, leaving out None."""
    return {k: _SER.serialize(v) for k, v in values.items() if v is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _DES.deserialize(v) for k, v in item.items()}


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


class DynamoStore:
    def __init__(
        self,
        prefix: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        clock: Clock = utcnow,
        # BatchGetItem takes ≤ 100 keys: a page of recipients is checked against suppressions in one call.
        page_size: int = 100,
    ) -> None:
        self.table = f"{prefix}-store"
        self.clock = clock
        self.page_size = min(page_size, 100)
        try:
            self._db = boto3.client(
                "dynamodb",
                region_name=region or "us-east-1",
                endpoint_url=endpoint_url,
                config=Config(retries={"max_attempts": 8, "mode": "adaptive"}),
            )
        except BotoCoreError as err:
            raise StoreError(f"cannot set up DynamoDB: {err}") from err

    def __repr__(self) -> str:
        return f"DynamoStore({self.table!r})"

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _aws(self) -> Iterator[None]:
        """botocore's errors as StoreError, where they enter."""
        try:
            yield
        except ClientError as err:
            if _code(err) == "ResourceNotFoundException":
                raise StoreError(
                    f"DynamoDB table {self.table} does not exist", hint="run `newsletter store init`"
                ) from err
            raise StoreError(f"DynamoDB ({self.table}): {err}") from err
        except BotoCoreError as err:
            raise StoreError(
                f"DynamoDB ({self.table}): {err}", hint="check the AWS credentials, AWS_REGION and AWS_ENDPOINT_URL"
            ) from err

    def init(self) -> list[str]:
        with self._aws():
            try:
                self._db.describe_table(TableName=self.table)
                return [f"{self.table}: exists"]
            except ClientError as err:
                if _code(err) != "ResourceNotFoundException":
                    raise
            attrs = ("pk", "sk", "gsi1pk", "gsi1sk")
            self._db.create_table(
                TableName=self.table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in attrs],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": "gsi1",
                        "KeySchema": [
                            {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                            {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            )
            self._db.get_waiter("table_exists").wait(TableName=self.table, WaiterConfig={"Delay": 1})
        return [f"{self.table}: created (pk/sk, index gsi1)"]

    # Low-level helpers -----------------------------------------------------------------------------
    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        with self._aws():
            found = self._db.get_item(TableName=self.table, Key=_av(pk=pk, sk=sk), ConsistentRead=True)
        return _plain(found["Item"]) if "Item" in found else None

    def _put_if(self, item: dict[str, Any], condition: str, values: dict[str, Any] | None = None) -> bool:
        """A conditional put: false when the condition does not hold (someone else got there first)."""
        args: dict[str, Any] = {"TableName": self.table, "Item": item, "ConditionExpression": condition}
        if values:
            args["ExpressionAttributeValues"] = values
        if names := re.findall(r"#(\w+)", condition):
            args["ExpressionAttributeNames"] = {f"#{n}": n for n in names}
        with self._aws():
            try:
                self._db.put_item(**args)
            except ClientError as err:
                if _code(err) == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def _query(self, **args: Any) -> Iterator[dict[str, Any]]:
        """Every item of a query, page by page (memory: one page)."""
        args = {"TableName": self.table, **args}
        while True:
            with self._aws():
                page = self._db.query(**args)
            for item in page.get("Items", []):
                yield _plain(item)
            if "LastEvaluatedKey" not in page:
                return
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _batch_get(self, keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            chunk = [_av(pk=pk, sk=sk) for pk, sk in keys[start : start + 100]]
            request = {self.table: {"Keys": chunk, "ConsistentRead": True}}
            for answer in self._until_processed(self._db.batch_get_item, request, "UnprocessedKeys", "reads"):
                found.extend(_plain(i) for i in answer.get("Responses", {}).get(self.table, []))
        return found

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), 25):
            pending = {self.table: requests[start : start + 25]}
            self._until_processed(self._db.batch_write_item, pending, "UnprocessedItems", "writes")

    def _until_processed(
        self, call: Callable[..., dict[str, Any]], request: dict[str, Any], leftover: str, what: str
    ) -> list[dict[str, Any]]:
        """Every answer to a batch request, sent again with what DynamoDB left unprocessed (``leftover``), backing
        off, until nothing is left."""
        answers = []
        for attempt in range(10):
            with self._aws():
                answer = call(RequestItems=request)
            answers.append(answer)
            request = answer.get(leftover) or {}
            if not request:
                return answers
            time.sleep(min(0.05 * 2**attempt, 1.0))
        raise StoreError(f"DynamoDB ({self.table}): {what} kept being throttled", hint="try again later")

    def _event(
        self,
        email: str,
        list_id: str | None,
        action: str,
        status: str | None,
        source: str,
        at: str,
        detail: str | None = None,
    ) -> dict[str, Any]:
        return _av(
            pk=f"P#{email}",
            # time_ns keeps events that share a timestamp in the order this process wrote them
            sk=f"E#{at}#{time.time_ns():020d}{uuid.uuid4().hex[:6]}",
            email=email,
            list_id=list_id,
            action=action,
            status=status,
            source=source,
            at=at,
            detail=detail,
        )

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """TransactWriteItems; false when a condition failed (a concurrent change), StoreError otherwise."""
        with self._aws():
            try:
                self._db.transact_write_items(TransactItems=items)
            except ClientError as err:
                if _code(err) != "TransactionCanceledException":
                    raise
                reasons = err.response.get("CancellationReasons", [])
                if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                    return False
                raise
        return True

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
    ) -> Transition:
        for _ in range(5):
            current = self._get(f"P#{email}", f"M#{list_id}")
            before = MemberStatus(current["status"]) if current else None
            if before not in allowed_from or before == to:
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
                if current is None
                else {
                    "ConditionExpression": "#status = :before",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": _av(**{":before": before.value if before else ""}),
                }
            )
            profile_set = "SET email = :e, created_at = if_not_exists(created_at, :now), updated_at = :now"
            profile_values = _av(**{":e": email, ":now": now})
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
            if self._transact(items):
                return Transition(before=before, after=to, changed=True)
        raise ConflictError(f"{email} on {list_id} keeps changing under us", hint="try again")

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
            ]
        )

    def add_members(
        self, rows: list[tuple[str, str | None]], list_id: str, *, status: MemberStatus, source: str
    ) -> BatchOutcome:
        if not rows:
            return BatchOutcome()
        names = first_names(rows)
        emails = list(names)
        keys = [(f"P#{e}", f"M#{list_id}") for e in emails]
        keys += [(f"P#{e}", "PROFILE") for e in emails]
        keys += [(f"X#{email_hash(e)}", "X") for e in emails]
        found = self._batch_get(keys)
        present = {i["email"] for i in found if i["sk"].startswith("M#")}
        profiles = {i["email"] for i in found if i["sk"] == "PROFILE"}
        hashes = {i["pk"][2:] for i in found if i["sk"] == "X"}
        outcome = sort_batch(rows, present, {e for e in emails if email_hash(e) in hashes})
        now = iso(self.clock())
        writes: list[dict[str, Any]] = []
        for email in outcome.added:
            name = names[email]
            if email not in profiles:
                profile = _av(pk=f"P#{email}", sk="PROFILE", email=email, name=name, created_at=now, updated_at=now)
                writes.append({"PutRequest": {"Item": profile}})
            member = _membership(email, list_id, status, name=name, source=source, created_at=now, updated_at=now)
            writes.append({"PutRequest": {"Item": member}})
            event = self._event(email, list_id, "imported", status.value, source, now)
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
        item = _av(pk=f"I#{record.issue_id}", sk="I", doc=record.model_dump_json())
        return self._put_if(item, "attribute_not_exists(pk)")

    def get_issue(self, issue_id: str) -> IssueRecord | None:
        item = self._get(f"I#{issue_id}", "I")
        return IssueRecord.model_validate_json(item["doc"]) if item else None

    def update_issue(self, record: IssueRecord) -> None:
        with self._aws():
            self._db.put_item(
                TableName=self.table, Item=_av(pk=f"I#{record.issue_id}", sk="I", doc=record.model_dump_json())
            )

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

    def record_soft_bounce(self, email: str, at: datetime) -> list[datetime]:
        with self._aws():
            self._db.put_item(TableName=self.table, Item=_av(pk=f"P#{email}", sk=f"B#{iso(at)}", at=iso(at)))
        bounces = self._query(
            KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
            ExpressionAttributeValues=_av(**{":p": f"P#{email}", ":b": "B#"}),
            ConsistentRead=True,
        )
        return [parse_iso(b["at"]) for b in bounces]

    # A person --------------------------------------------------------------------------------------
    def person(self, email: str) -> dict[str, Any]:
        profile, memberships, events, bounces, ledger = None, [], [], [], []
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
        return person_export(
            email,
            profile=profile,
            memberships=memberships,
            suppression=self.suppression(email),
            consent_log=events,
            soft_bounces=bounces,
            send_ledger=ledger,
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


def _num(value: float) -> Decimal:
    return Decimal(str(round(value, 6)))


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
