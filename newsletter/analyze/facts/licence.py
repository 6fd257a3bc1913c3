"""Licences and notices: the licence/notice files themselves, SPDX headers and manifests' licence fields."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from newsletter.analyze.facts.common import clip
from newsletter.analyze.facts.diff import added, removed
from newsletter.analyze.facts.model import Fact, FactKind

_FILE = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|COPYRIGHT|UNLICENSE|PATENTS)([.\-_].*)?$", re.I)
_SPDX = re.compile(r"SPDX-License-Identifier:\s*(?P<id>[\w.+-]+(?:\s+(?:OR|AND|WITH)\s+[\w.+-]+)*)")
_FIELD = re.compile(r"""^\s*"?licen[cs]e(?:[-_]files)?"?\s*[=:]\s*(?P<value>.+?),?\s*$""", re.I)
# What every match of the two patterns above contains.
_SPDX_WORD = re.compile(r"SPDX-License-Identifier:")
_FIELD_WORD = re.compile(r"licen[cs]e", re.I)


def is_licence_file(path: str) -> bool:
    return bool(_FILE.match(PurePosixPath(path).name))


def extract(path: str, patch: str | None, status: str) -> list[Fact]:
    if is_licence_file(path):
        first = next((line.text.strip() for line in added(patch) if line.text.strip()), None)
        gone = next((line.text.strip() for line in removed(patch) if line.text.strip()), None)
        return [
            Fact(
                kind=FactKind.LICENCE_CHANGED,
                name=path,
                path=path,
                detail=status,
                old=clip(gone, 80) if gone else None,
                new=clip(first, 80) if first else None,
            )
        ]
    facts: list[Fact] = []
    gone_lines, new_lines = removed(patch), added(patch)
    for pattern, key, needle in ((_SPDX, "id", _SPDX_WORD), (_FIELD, "value", _FIELD_WORD)):
        if not needle.search(patch or ""):
            continue  # no line of the patch can match: one scan of the patch instead of a search per line
        old = {m[key].strip() for line in gone_lines if (m := pattern.search(line.text))}
        new = {m[key].strip() for line in new_lines if (m := pattern.search(line.text))}
        # A new file with the project's usual header is not a licence change; a modified header is.
        if status == "added" and pattern is _SPDX:
            continue
        if (
            old != new
            and (old or new)
            and (
                pattern is _SPDX
                or PurePosixPath(path).name in {"pyproject.toml", "package.json", "Cargo.toml", "setup.py", "setup.cfg"}
            )
        ):
            facts.append(
                Fact(
                    kind=FactKind.LICENCE_CHANGED,
                    name="SPDX" if pattern is _SPDX else "licence field",
                    path=path,
                    old=", ".join(sorted(old)) or None,
                    new=", ".join(sorted(new)) or None,
                )
            )
    return facts
