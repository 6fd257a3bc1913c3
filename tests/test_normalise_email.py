"""normalise_email checks each domain once (cached) and must agree with email-validator's whole check."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

from newsletter.errors import InputError
from newsletter.subscriptions import normalise_email

CASES = [
    "Foo@Example.COM",
    " a.b+c@mail.example.com ",
    "user@bücher.de",
    "user@xn--bcher-kva.de",
    "user@ＥＸＡＭＰＬＥ.com",
    "用户@例子.广告",
    "Ünï@example.com",
    "x@localhost",
    "user@domain.invalid",
    "a@b",
    "a..b@example.com",
    ".a@example.com",
    "a@-bad.com",
    "a@bad..com",
    "user@example.com.",
    "user@exa_mple.com",
    "a@b.c@d.com",
    '"quoted"@example.com',
    "a@[127.0.0.1]",
    "us er@example.com",
    "user@",
    "@example.com",
    "",
    "a" * 65 + "@example.com",
    "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "com",
    "a" * 60 + "@" + "ü" * 50 + "." + "b" * 60 + "." + "c" * 60 + ".com",
]


def whole_check(text: str) -> str:
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as err:
        return f"invalid: {err}"


@pytest.mark.parametrize("text", CASES)
def test_the_cached_domain_check_agrees_with_the_whole_check(text: str) -> None:
    try:
        got = normalise_email(text)
    except InputError as err:
        got = "invalid: " + str(err).split(": ", 1)[1]
    assert got == whole_check(text)
    # The second time comes from the cache of domains, and still agrees.
    try:
        again = normalise_email(text.upper() if text.isascii() else text)
    except InputError as err:
        again = "invalid: " + str(err).split(": ", 1)[1]
    assert again == whole_check(text.upper() if text.isascii() else text)
