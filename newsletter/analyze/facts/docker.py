"""Dockerfiles: base image (``FROM``) old → new, ``ENV`` variables set or dropped, ``EXPOSE``d ports."""

from __future__ import annotations

import re

from newsletter.analyze.facts.common import compare
from newsletter.analyze.facts.model import Fact, FactKind

_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(?P<image>[^\s:@]+)(?P<tag>[:@]\S+)?", re.I | re.M)
_ENV = re.compile(r"^\s*ENV\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)[=\s]\s*(?P<value>.*)$", re.I | re.M)


def _images(text: str) -> dict[str, str | None]:
    return {m["image"]: (m["tag"] or "")[1:] or "latest" for m in _FROM.finditer(text)}


def _env(text: str) -> dict[str, str | None]:
    return {m["name"]: m["value"].strip() or None for m in _ENV.finditer(text)}


def is_dockerfile(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.startswith("Dockerfile") or name.endswith((".Dockerfile", ".dockerfile", "Containerfile"))


def extract(path: str, patch: str | None) -> list[Fact]:
    facts = compare(
        patch,
        _images,
        path,
        added=FactKind.IMAGE_CHANGED,
        removed=FactKind.IMAGE_CHANGED,
        changed=FactKind.IMAGE_CHANGED,
        detail="base image",
    )
    facts += compare(
        patch,
        _env,
        path,
        added=FactKind.ENV_ADDED,
        removed=FactKind.ENV_REMOVED,
        changed=FactKind.DEFAULT_CHANGED,
        detail="ENV in the image",
    )
    return facts
