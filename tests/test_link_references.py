"""Issue 13, item 13: links carry an opaque reference to the subscriber, not the address; the store of either
backend finds the person by it; links issued before (with the address) keep working; old DynamoDB profiles
are indexed by `store init`."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import boto3
import pytest
from itsdangerous import URLSafeTimedSerializer

from newsletter import subscriptions
from newsletter.errors import TokenError
from newsletter.store.base import MemberStatus
from newsletter.store.common import email_hash
from newsletter.store.dynamodb import DynamoStore
from newsletter.store.sqlite import SqliteStore
from newsletter.subscriptions import Tokens
from tests.stores import FakeClock, Store

SECRET = "refs-Wq4Nx8Lb1Zc6Rt3Vm9Kp2Hd7Fy5Js0Ga"
ADA = "ada.lovelace@example.org"


def _payload(token: str) -> bytes:
    part = token.split(".")[0]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def old_token(purpose: str, email: str, list_id: str) -> str:
    """A link as issued before references: the address itself in the signed payload."""
    return URLSafeTimedSerializer(SECRET, salt=f"newsletter.{purpose}").dumps({"e": email, "l": list_id})


def test_a_link_does_not_show_the_address_and_names_one_subscriber() -> None:
    tokens = Tokens(SECRET)
    for purpose in ("confirm", "unsubscribe", "preferences"):
        token = tokens.make(purpose, ADA, "widgets")
        assert b"ada" not in _payload(token).lower() and b"@" not in _payload(token)
        assert "ada" not in token.lower()
    # one address, one reference; another address, another; nothing to test a guess against without the secret
    assert tokens.reference(ADA) == tokens.reference(ADA) != tokens.reference("bob@example.org")
    assert Tokens(SECRET.upper()).reference(ADA) != tokens.reference(ADA)
    assert email_hash(ADA) not in tokens.reference(ADA)


def test_both_stores_find_the_subscriber_a_link_names_and_nobody_after_forget(
    any_store: Store, clock: FakeClock
) -> None:
    tokens = Tokens(SECRET, clock=clock.epoch)
    any_store.add_members([(ADA, "Ada")], "widgets", status=MemberStatus.ACTIVE, source="test")
    token = tokens.make("unsubscribe", ADA, "widgets")
    assert subscriptions.read_link(any_store, tokens, token, "unsubscribe").email == ADA
    assert subscriptions.unsubscribe_by_token(any_store, tokens, token, source="web").changed
    assert any_store.get_member(ADA, "widgets").status == MemberStatus.UNSUBSCRIBED  # type: ignore[union-attr]
    # a subscriber made by the web form (a transition) is found too
    pending = subscriptions.subscribe(any_store, tokens, "grace@example.org", "widgets", source="web")
    assert pending.token and subscriptions.confirm(any_store, tokens, pending.token, source="web").transition.changed
    subscriptions.forget(any_store, ADA, lambda _text: None)
    preferences = tokens.make("preferences", ADA, "widgets")
    with pytest.raises(TokenError, match="no longer hold"):
        subscriptions.read_link(any_store, tokens, preferences, "preferences")
    # an unsubscribe link of someone forgotten: nothing to change, and no error (leaving is done already)
    assert not subscriptions.unsubscribe_by_token(any_store, tokens, token, source="web").changed
    assert any_store.get_member(ADA, "widgets") is None


def test_links_issued_with_the_address_still_work(any_store: Store) -> None:
    tokens = Tokens(SECRET)
    any_store.add_members([(ADA, None)], "widgets", status=MemberStatus.ACTIVE, source="test")
    old = old_token("unsubscribe", ADA, "widgets")
    assert subscriptions.read_link(any_store, tokens, old, "unsubscribe").email == ADA
    assert subscriptions.unsubscribe_by_token(any_store, tokens, old, source="web").changed


def test_store_init_indexes_dynamodb_profiles_written_before_references(moto_endpoint: str) -> None:
    store = DynamoStore("refs-old", region="us-east-1", endpoint_url=moto_endpoint)
    store.init()
    # a profile and membership as the store wrote them before: no index entry for the address's hash
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_endpoint)
    client.put_item(
        TableName="refs-old-store",
        Item={
            "pk": {"S": f"P#{ADA}"},
            "sk": {"S": "PROFILE"},
            "email": {"S": ADA},
            "created_at": {"S": "2025-01-01T00:00:00.000000+00:00"},
            "updated_at": {"S": "2025-01-01T00:00:00.000000+00:00"},
        },
    )
    tokens = Tokens(SECRET)
    token = tokens.make("preferences", ADA, "widgets")
    with pytest.raises(TokenError):
        subscriptions.read_link(store, tokens, token, "preferences")
    assert store.init() == ["refs-old-store: exists", "1 profiles indexed by address hash"]
    assert store.init() == ["refs-old-store: exists"]
    assert subscriptions.read_link(store, tokens, token, "preferences").email == ADA


def test_an_sqlite_file_from_before_gets_the_lookup_index_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    SqliteStore(path).add_members([(ADA, None)], "widgets", status=MemberStatus.ACTIVE, source="test")
    with sqlite3.connect(path) as db:
        db.execute("DROP INDEX subscribers_hash")  # as a file made before references has it
    store = SqliteStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'subscribers_hash'").fetchone()
    tokens = Tokens(SECRET)
    assert (
        subscriptions.read_link(store, tokens, tokens.make("unsubscribe", ADA, "widgets"), "unsubscribe").email == ADA
    )
