"""Where templates, prompts and string catalogues are read from: the shipped ones, and a deployment's own.

The shipped files live in the repository's top-level ``templates/`` folder; a wheel carries them as the
package data ``newsletter/templates/`` (see pyproject.toml). ``NEWSLETTER_TEMPLATES_DIR`` names a folder laid
out the same way (``email/``, ``text/``, ``markdown/``, ``web/``, ``prompts/``, ``i18n/``) whose files replace
the shipped files of the same name — a list's own header, colours or footer without forking the project.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from newsletter.errors import ConfigError

_HERE = Path(__file__).resolve().parent
ENV_VAR = "NEWSLETTER_TEMPLATES_DIR"


def shipped() -> Path:
    """The shipped templates: inside the installed package, else at the top of the source checkout."""
    for candidate in (_HERE / "templates", _HERE.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise ConfigError("the shipped templates are missing", hint="reinstall the package (pip install .)")


@cache
def override() -> Path | None:
    """The deployment's own templates folder, when ``NEWSLETTER_TEMPLATES_DIR`` names one."""
    value = os.environ.get(ENV_VAR, "").strip()
    if not value:
        return None
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"{ENV_VAR}={value!r} is not a folder", hint="unset it or point it at a folder")
    return folder


def folders(family: str) -> list[Path]:
    """The folders a family (``email``, ``prompts`` …) is read from, the deployment's first."""
    own = override()
    return [*([own / family] if own and (own / family).is_dir() else []), shipped() / family]


def path(family: str, name: str) -> Path:
    """The file ``family/name`` that wins: the deployment's copy when it has one, else the shipped one."""
    for folder in folders(family):
        if (folder / name).is_file():
            return folder / name
    return shipped() / family / name


def loader(family: str) -> jinja2.FileSystemLoader:
    """A Jinja loader for one family that finds a deployment's file before the shipped one."""
    return jinja2.FileSystemLoader([str(folder) for folder in folders(family)])


def environment(family: str, **options: Any) -> jinja2.Environment:
    """The Jinja environment of one family: its loader, and its compiled templates kept between runs."""
    return jinja2.Environment(loader=loader(family), bytecode_cache=_compiled(family, _key(options)), **options)


class _Compiled(jinja2.FileSystemBytecodeCache):
    """Jinja's cache of compiled templates (in this user's temporary folder), so that a command renders without
    compiling its templates first. Keyed by the file, its content, its family and the environment's options:
    a changed template, or a changed way of compiling it, is compiled again."""

    def __init__(self, salt: str) -> None:
        super().__init__()
        self._salt = salt

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        return super().get_cache_key(f"{self._salt}\0{name}", filename)


@cache
def _compiled(family: str, options: str) -> jinja2.BytecodeCache | None:
    try:
        return _Compiled(f"{family}\0{options}")
    except (OSError, RuntimeError):  # no temporary folder to keep them in: compile each time
        return None


def _key(options: dict[str, Any]) -> str:
    return repr(sorted((name, getattr(value, "__qualname__", value)) for name, value in options.items()))
