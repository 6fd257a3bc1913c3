"""The dynamodb store's connection, schema and low-level helpers, shared by its parts."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from newsletter.errors import StoreError
from newsletter.store.common import (
    Clock,
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


class DynamoStoreBase:
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
                added = self.index_profiles()
                return [f"{self.table}: exists"] + ([f"{added} profiles indexed by address hash"] if added else [])
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

    def index_profiles(self) -> int:  # people.py
        raise NotImplementedError

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


def _num(value: float) -> Decimal:
    return Decimal(str(round(value, 6)))
