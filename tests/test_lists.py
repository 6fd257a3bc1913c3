"""List files: the shipped example loads; every mistake names the file, the key and the problem."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from newsletter.errors import ConfigError, InputError
from newsletter.lists import load_list, load_lists
from newsletter.models import Importance

SHIPPED = Path(__file__).resolve().parents[1] / "subscribers"

GOOD = """
title = "Daily"
repos = ["octo/one", "octo/two@release-1.0"]
sender = "Digest <digest@example.com>"
postal_address = "1 Road, Town"
"""


def test_the_shipped_list_loads() -> None:
    lists = load_lists(SHIPPED)
    sglang = lists["sglang"]
    assert [str(r) for r in sglang.repos] == ["sgl-project/sglang"]
    assert (sglang.language, sglang.timezone, sglang.send_at) == ("zh-CN", "Asia/Shanghai", time(8, 30))
    lines = [line for line in (SHIPPED / "sglang.toml").read_text().splitlines() if "@" in line]
    assert all(line.startswith(("sender", "reply_to")) for line in lines)  # never a subscriber's address


def test_defaults(tmp_path: Path) -> None:
    (tmp_path / "daily.toml").write_text(GOOD)
    daily = load_list(tmp_path, "daily")
    assert daily.id == "daily" and daily.repos[1].branch == "release-1.0"
    assert daily.skip_empty_days and daily.min_importance == Importance.LOW and daily.language == "en"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('colour = "blue"', "key 'colour': unknown key"),
        ('timezone = "Mars/Olympus"', "key 'timezone': unknown timezone 'Mars/Olympus'"),
        ('language = "fr"', "key 'language': 'fr' is not one of en, zh-CN"),
        ('send_at = "25:00"', "key 'send_at':"),
        ('min_importance = "urgent"', "key 'min_importance':"),
        ('reply_to = "not an address"', "key 'reply_to': 'not an address' is not an address"),
        ('id = "other"', "key 'id': 'other' differs from the file name 'daily'"),
    ],
)
def test_a_bad_key_is_named(tmp_path: Path, extra: str, message: str) -> None:
    (tmp_path / "daily.toml").write_text(GOOD + extra + "\n")
    with pytest.raises(ConfigError) as caught:
        load_list(tmp_path, "daily")
    assert str(caught.value).startswith(f"{tmp_path / 'daily.toml'}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace('"octo/two@release-1.0"', '"octo two"'), "key 'repos[1]': malformed repository 'octo two'"),
        (GOOD.replace('repos = ["octo/one", "octo/two@release-1.0"]', "repos = []"), "key 'repos': expected"),
        (GOOD.replace('sender = "Digest <digest@example.com>"', ""), "key 'sender': missing (required)"),
        (GOOD + "title = 'twice'", "not valid TOML"),
    ],
)
def test_structural_mistakes(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "daily.toml").write_text(text)
    with pytest.raises(ConfigError, match=r"daily\.toml") as caught:
        load_list(tmp_path, "daily")
    assert message in str(caught.value)


def test_unknown_and_malformed_list_ids(tmp_path: Path) -> None:
    (tmp_path / "daily.toml").write_text(GOOD)
    with pytest.raises(ConfigError, match=r"unknown list 'weekly'.*known lists: daily"):
        load_list(tmp_path, "weekly")
    with pytest.raises(InputError, match="malformed list id"):
        load_list(tmp_path, "../etc/passwd")
    assert load_lists(tmp_path / "missing") == {}
