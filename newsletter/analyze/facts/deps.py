"""Dependency manifests: packages added, removed or moved to another version (pyproject, requirements,
setup.py, go.mod, Cargo.toml, package.json), and the project's own version (a release)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from newsletter.analyze.facts.common import clip, sides
from newsletter.analyze.facts.model import Fact, FactKind

_MANIFESTS = {"pyproject.toml", "setup.py", "setup.cfg", "go.mod", "Cargo.toml", "package.json", "environment.yml"}
_QUOTED_REQ = re.compile(
    r"""^\s*["'](?P<name>[A-Za-z0-9][\w.\-]*)(?:\[[^\]]*\])?\s*(?P<spec>[<>=!~^][^"';]*)?(?:;[^"']*)?["'],?\s*$"""
)
_REQ_LINE = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][\w.\-]*)(?:\[[^\]]*\])?\s*(?P<spec>(?:[<>=!~]=?|===)\s*[^;#\s]+(?:\s*,\s*[<>=!~]=?\s*[^;#\s,]+)*)?\s*(?:[;#].*)?$"
)
_GO = re.compile(r"^\s*(?:require\s+)?(?P<name>[\w.\-]+\.[\w.\-/]+)\s+(?P<spec>v[\w.\-+]+)(?:\s*//.*)?$")
_TOML_DEP = re.compile(
    r"""^\s*(?P<name>[A-Za-z0-9][\w\-]*)\s*=\s*(?:"(?P<spec>[^"]+)"|\{[^}]*?version\s*=\s*"(?P<spec2>[^"]+)"[^}]*\})"""
)
_JSON_DEP = re.compile(
    r"""^\s*"(?P<name>@?[\w.\-]+(?:/[\w.\-]+)?)"\s*:\s*"(?P<spec>[~^<>=*]*\d[^"]*|workspace:[^"]*|latest|\*)",?\s*$"""
)
_VERSION = re.compile(r"""^\s*"?version"?\s*[=:]\s*["'](?P<version>[^"']+)["']""", re.M)
_VERSIONISH = re.compile(r"^\s*(?:[<>=!~^*]|\d|v\d)")
_NOT_DEPS = {
    "version",
    "name",
    "edition",
    "license",
    "description",
    "readme",
    "repository",
    "homepage",
    "rust-version",
    "requires-python",
    "python",
    "authors",
    "documentation",
    "keywords",
    "build-backend",
    "go",
    "module",
    "toolchain",
    "node",
    "npm",
    "engines",
}


def is_manifest(path: str) -> bool:
    name = PurePosixPath(path).name
    return name in _MANIFESTS or (name.startswith("requirements") and name.endswith((".txt", ".in")))


def _deps(path: str, text: str) -> dict[str, str | None]:
    name = PurePosixPath(path).name
    found: dict[str, str | None] = {}
    for line in text.splitlines():
        if name.startswith("requirements"):
            match = _REQ_LINE.match(line)
        elif name == "go.mod":
            match = _GO.match(line)
        elif name == "package.json":
            match = _JSON_DEP.match(line)
        elif name == "Cargo.toml":
            match = _TOML_DEP.match(line)
        else:  # pyproject.toml, setup.py, setup.cfg, environment.yml: quoted requirement strings
            match = _QUOTED_REQ.match(line) or (_TOML_DEP.match(line) if name == "pyproject.toml" else None)
            if match and not _VERSIONISH.match(match.groupdict().get("spec") or match.groupdict().get("spec2") or "1"):
                continue  # [project.scripts] name = "module:func" is not a dependency
        if not match or match["name"].lower() in _NOT_DEPS or line.lstrip().startswith(("#", "//")):
            continue
        groups = match.groupdict()
        spec = groups.get("spec") or groups.get("spec2")
        found.setdefault(match["name"], clip(spec.strip(), 40) if spec else None)
    return found


def extract(path: str, patch: str | None) -> list[Fact]:
    old_text, new_text = sides(patch)
    old, new = _deps(path, old_text), _deps(path, new_text)
    facts = [Fact(kind=FactKind.DEPENDENCY_ADDED, name=n, path=path, new=v) for n, v in new.items() if n not in old]
    facts += [Fact(kind=FactKind.DEPENDENCY_REMOVED, name=n, path=path, old=v) for n, v in old.items() if n not in new]
    facts += [
        Fact(kind=FactKind.DEPENDENCY_CHANGED, name=n, path=path, old=old[n] or "any", new=v or "any")
        for n, v in new.items()
        if n in old and old[n] != v
    ]
    old_version, new_version = _VERSION.search(old_text), _VERSION.search(new_text)
    if old_version and new_version and old_version["version"] != new_version["version"]:
        facts.append(
            Fact(
                kind=FactKind.VERSION_CHANGED,
                name=PurePosixPath(path).name,
                path=path,
                old=old_version["version"],
                new=new_version["version"],
            )
        )
    return facts
