"""Mailing lists: ``subscribers/<list-id>.toml``, one file per list, reviewed like code, never holding addresses.

Every problem is reported as one line that names the file, the key and what is wrong, so that a typo in a
list file stops a run before anything is collected or sent.
"""

from __future__ import annotations

import re
import tomllib
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from newsletter.errors import ConfigError, InputError
from newsletter.i18n import LANGUAGES
from newsletter.models import MailingList, RepoSpec, zone

# A list id is a file name and part of store keys and URLs: keep it boring.
_LIST_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def check_list_id(list_id: str) -> str:
    if not _LIST_ID.match(list_id):
        raise InputError(
            f"malformed list id {list_id!r}", hint="use lower-case letters, digits, '-' and '_', e.g. sglang"
        )
    return list_id


def list_ids(folder: Path) -> list[str]:
    """The ids of the lists in ``folder`` (file names without .toml), sorted; none when it does not exist."""
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml") if _LIST_ID.match(p.stem) and p.is_file())


def load_lists(folder: Path) -> dict[str, MailingList]:
    """Every list in ``folder``, validated; the first invalid file stops the load."""
    return {list_id: load_list(folder, list_id) for list_id in list_ids(folder)}


def load_list(folder: Path, list_id: str) -> MailingList:
    check_list_id(list_id)
    path = folder / f"{list_id}.toml"
    if not path.is_file():
        known = ", ".join(list_ids(folder)) or "none"
        raise ConfigError(
            f"unknown list {list_id!r}: there is no {path}",
            hint=f"known lists: {known}; the folder is NEWSLETTER_LISTS_DIR",
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read: {err}") from err
    return parse_list(data, list_id=list_id, source=str(path))


def parse_list(data: dict[str, Any], *, list_id: str, source: str) -> MailingList:
    """Validate the contents of one list file; ``source`` names it in messages."""
    data = dict(data)
    if data.setdefault("id", list_id) != list_id:
        raise ConfigError(f"{source}: key 'id': {data['id']!r} differs from the file name {list_id!r}")

    def bad(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{source}: key {key!r}: {problem}")

    repos = data.get("repos")
    if not isinstance(repos, list) or not repos:
        raise bad("repos", 'expected a non-empty list of "owner/repo[@branch]" strings')
    specs = []
    for i, text in enumerate(repos):
        if not isinstance(text, str):
            raise bad(f"repos[{i}]", f'expected "owner/repo[@branch]", got {text!r}')
        try:
            specs.append(RepoSpec.parse(text))
        except InputError as err:
            raise bad(f"repos[{i}]", str(err)) from None
    data["repos"] = specs

    if "timezone" in data:
        try:
            zone(str(data["timezone"]))
        except InputError as err:
            raise bad("timezone", str(err)) from None
    if "language" in data and data["language"] not in LANGUAGES:
        raise bad("language", f"{data['language']!r} is not one of {', '.join(LANGUAGES)}")
    offered = data.get("languages", [])
    if not isinstance(offered, list) or any(lang not in LANGUAGES for lang in offered):
        raise bad("languages", f"expected a list of {', '.join(LANGUAGES)}, got {offered!r}")
    if offered and "language" not in data:
        data["language"] = offered[0]  # the first language offered is the default
    for key in ("sender", "reply_to"):
        if isinstance(data.get(key), str):
            _check_address(data[key], bad, key)
    if isinstance(data.get("postal_address"), str) and not data["postal_address"].strip():
        raise bad("postal_address", "must not be empty (it is shown in every footer, as the law asks)")

    try:
        return MailingList.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            key = ".".join(str(part) for part in e["loc"]) or "?"
            msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
            if e["type"] == "missing":
                msg = "missing (required)"
            problems.append(f"key {key!r}: {msg}")
        raise ConfigError(f"{source}: {'; '.join(problems)}") from None


def _check_address(text: str, bad: Any, key: str) -> None:
    from email_validator import EmailNotValidError, validate_email  # slow to import: only when a list is read

    _, address = parseaddr(text)
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as err:
        raise bad(key, f"{text!r} is not an address like 'Name <user@example.com>': {err}") from None
