"""Stores of either backend for tests: SQLite in a tmp folder, DynamoDB through moto's ThreadedMotoServer (a
real HTTP endpoint on 127.0.0.1, one per test session, a fresh table prefix per test).

Fixtures (registered in tests/conftest.py):
- ``moto_endpoint``: the URL of the session's moto server (for any AWS service: DynamoDB, SES, S3, SQS).
- ``store_backend``: "sqlite" or "dynamodb"; tests that use a store run once per backend.
- ``clock``: a settable clock shared by the stores a test makes (lease expiry, consent timestamps).
- ``make_store(**kw)``: a new store object on the test's store; two calls give two connections/clients to
  the same data, as two runs on two machines would have.
- ``any_store``: ``make_store()``.
- ``store_env``: points NEWSLETTER_STORE (and AWS_ENDPOINT_URL) at the test's store, for CLI and pipeline tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newsletter.store.dynamodb import DynamoStore
from newsletter.store.sqlite import SqliteStore
from tests.fakes.aws import moto_server

Store = SqliteStore | DynamoStore
BACKENDS = ("sqlite", "dynamodb")


class FakeClock:
    """A clock that only moves when told to; ``epoch`` is the same moment as seconds, for Tokens."""

    def __init__(self, start: datetime = datetime(2026, 1, 13, 8, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store_location(request: pytest.FixtureRequest, store_backend: str, tmp_path: Path) -> dict[str, Any]:
    """Where this test's store lives, as constructor arguments and as NEWSLETTER_STORE."""
    if store_backend == "sqlite":
        path = tmp_path / "store" / "newsletter.db"
        return {"url": f"sqlite:///{path}", "path": path}
    endpoint = request.getfixturevalue("moto_endpoint")
    prefix = f"t{uuid.uuid4().hex[:12]}"
    DynamoStore(prefix, region="us-east-1", endpoint_url=endpoint).init()
    return {"url": f"dynamodb://{prefix}", "prefix": prefix, "endpoint_url": endpoint}


@pytest.fixture
def make_store(store_location: dict[str, Any], clock: FakeClock) -> Iterator[Callable[..., Store]]:
    made: list[Store] = []

    def make(**kwargs: Any) -> Store:
        kwargs.setdefault("clock", clock)
        if "path" in store_location:
            store: Store = SqliteStore(store_location["path"], **kwargs)
        else:
            store = DynamoStore(
                store_location["prefix"], region="us-east-1", endpoint_url=store_location["endpoint_url"], **kwargs
            )
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def any_store(make_store: Callable[..., Store]) -> Store:
    return make_store()


@pytest.fixture
def store_env(store_location: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("NEWSLETTER_STORE", store_location["url"])
    if "endpoint_url" in store_location:
        monkeypatch.setenv("AWS_ENDPOINT_URL", store_location["endpoint_url"])
    return store_location
