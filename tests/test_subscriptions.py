"""Signed tokens and address normalisation (no store needed)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from newsletter.config import Settings
from newsletter.errors import ConfigError, InputError, TokenError
from newsletter.store.common import email_hash
from newsletter.subscriptions import Tokens, normalise_email
from tests.stores import FakeClock

SECRET = "unit-Rv3Np8Zq1Kx6Tb4Wm9Lc2Hy7Fs5Jd0Ga"
OTHER = "other-Mk2Xc7Vb5Nq9Lp1Zt4Rw8Hf3Jy6Gd0Sa"


@pytest.fixture
def tokens(clock: FakeClock) -> Tokens:
    return Tokens(SECRET, clock=clock.epoch)


def test_round_trip_binds_email_list_and_purpose(tokens: Tokens, clock: FakeClock) -> None:
    token = tokens.make("confirm", "ada@example.com", "sglang")
    claims = tokens.read(token, "confirm")
    # the link names its subscriber by an opaque reference to the store's key, not by the address
    assert (claims.subject, claims.list_id, claims.purpose) == (email_hash("ada@example.com"), "sglang", "confirm")
    assert claims.issued_at.timestamp() == int(clock.epoch())
    assert tokens.make("confirm", "bob@example.com", "sglang") != token


def test_confirmation_expires_after_seven_days(tokens: Tokens, clock: FakeClock) -> None:
    token = tokens.make("confirm", "ada@example.com", "sglang")
    clock.advance(timedelta(days=7).total_seconds())
    assert tokens.read(token, "confirm").subject == email_hash("ada@example.com")  # exactly 7 days: still valid
    clock.advance(1)
    with pytest.raises(TokenError, match=r"confirmation link expired on 2026-01-20 08:00 UTC .*7 days"):
        tokens.read(token, "confirm")


def test_unsubscribe_and_preferences_never_expire(tokens: Tokens, clock: FakeClock) -> None:
    unsubscribe = tokens.make("unsubscribe", "ada@example.com", "sglang")
    preferences = tokens.make("preferences", "ada@example.com", "sglang")
    clock.advance(timedelta(days=3650).total_seconds())
    assert tokens.read(unsubscribe, "unsubscribe").list_id == "sglang"
    assert tokens.read(preferences, "preferences").list_id == "sglang"


@pytest.mark.parametrize("change", ["payload", "signature", "truncate", "garbage"])
def test_tampered_tokens_are_rejected(tokens: Tokens, change: str) -> None:
    token = tokens.make("confirm", "ada@example.com", "sglang")
    payload, stamp, signature = token.split(".")
    forged = {
        "payload": Tokens(OTHER).make("confirm", "eve@example.com", "sglang").split(".")[0] + f".{stamp}.{signature}",
        "signature": f"{payload}.{stamp}.{signature[:-2]}xx",
        "truncate": token[:-5],
        "garbage": "not a token at all",
    }[change]
    with pytest.raises(TokenError, match="damaged or was not issued by us"):
        tokens.read(forged, "confirm")


@pytest.mark.parametrize(
    ("purpose", "name", "extra"),
    [
        ("unsubscribe", None, None),
        ("confirm", "Zoë 李", None),  # non-ASCII in the payload
        ("undo", None, {"from": "active", "at": "2026-01-13T07:00:00.000000+00:00" * 3}),  # long enough to compress
    ],
)
def test_a_token_is_the_librarys_own_byte_for_byte(
    purpose: str, name: str | None, extra: dict[str, str] | None
) -> None:
    """make() writes itsdangerous' URL-safe timed token itself (it is on a campaign's hot path): the same
    bytes as the library's dumps at the same moment, for every shape of payload."""
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    moment = 1_767_600_000

    class _At(TimestampSigner):
        def get_timestamp(self) -> int:
            return moment

    library = URLSafeTimedSerializer(SECRET, salt=f"newsletter.{purpose}", signer=_At)
    reference = Tokens(SECRET).reference("ada@example.com")
    payload: dict[str, object] = {"r": reference, "l": "sglang"} | ({"n": name} if name else {})
    if extra:
        payload["x"] = extra
    made = Tokens(SECRET, clock=lambda: moment).make(purpose, "ada@example.com", "sglang", name=name, extra=extra)
    assert made == library.dumps(payload)
    assert made.startswith(".") == (extra is not None)  # the compressed form was taken where it is shorter
    # A message's links: one payload, signed per purpose, each the library's own token for its purpose.
    pair = Tokens(SECRET, clock=lambda: moment).make_many(
        (purpose, "preferences"), "ada@example.com", "sglang", name=name, extra=extra
    )
    other = URLSafeTimedSerializer(SECRET, salt="newsletter.preferences", signer=_At)
    assert pair == [made, other.dumps(payload)]


def test_wrong_purpose_and_wrong_secret(tokens: Tokens) -> None:
    unsubscribe = tokens.make("unsubscribe", "ada@example.com", "sglang")
    with pytest.raises(TokenError, match="this is an unsubscribe link, not a confirmation link"):
        tokens.read(unsubscribe, "confirm")
    with pytest.raises(TokenError, match="damaged"):
        Tokens(OTHER).read(unsubscribe, "unsubscribe")
    with pytest.raises(ValueError):
        tokens.make("delete-everything", "ada@example.com", "sglang")


def test_normalise_email() -> None:
    assert normalise_email("  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"
    assert normalise_email("用户@例子.广告") == "用户@例子.广告"
    for bad in ("", "ada", "ada@", "@example.com", "ada@@example.com", "ada@example..com", "a b@example.com"):
        with pytest.raises(InputError, match="invalid address"):
            normalise_email(bad)


def test_secret_is_required_with_a_clear_message() -> None:
    with pytest.raises(ConfigError, match="NEWSLETTER_SECRET is not set"):
        Settings.from_env({}).require_secret()
    assert Settings.from_env({"NEWSLETTER_SECRET": "x"}).require_secret() == "x"


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (" ", "too short"),
        ("1", "too short"),
        ("password", "too short"),
        ("password" * 4, "does not look random"),
        ("a" * 64, "does not look random"),
        ("0123456789" * 4, "does not look random"),
    ],
)
def test_a_weak_secret_is_refused_with_the_way_to_make_one(secret: str, problem: str) -> None:
    """A secret a dictionary recovers from one token ("password" did) forges every link: refused before use."""
    with pytest.raises(ConfigError, match=problem) as refused:
        Tokens(secret)
    assert "secrets.token_urlsafe(32)" in (refused.value.hint or "")


def test_random_secrets_are_accepted() -> None:
    import secrets

    for _ in range(50):
        Tokens(secrets.token_urlsafe(32))
        Tokens(secrets.token_hex(32))


def test_the_cli_refuses_a_weak_secret_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from newsletter.cli import app

    monkeypatch.setenv("NEWSLETTER_SECRET", "password")
    result = CliRunner().invoke(app, ["subscribers", "add", "ada@example.com", "--list", "sglang"])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 2, result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "NEWSLETTER_SECRET is too short" in lines[0] and "token_urlsafe" in lines[0]
