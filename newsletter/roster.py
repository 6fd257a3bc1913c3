"""A list's members as CSV: import (streamed, batched, idempotent) and export (formula-safe).

Import reads the file twice: once to check that it is a CSV with an ``email`` column in UTF-8 at all (a
malformed file changes nothing), once to validate each address and add it in batches. Memory stays at one
batch whatever the file's size. Rows with an invalid address are reported with their line number and
skipped; addresses already on the list (any status, including unsubscribed) are left alone.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from newsletter.errors import InputError
from newsletter.models import MailingList, ReaderPreferences
from newsletter.preferences import choose
from newsletter.progress import NoProgress, Progress
from newsletter.store.base import MemberStatus, PreferenceStore, Subscribers
from newsletter.subscriptions import normalise_email

# The reader's own choices (newsletter/preferences.py); an empty cell means the list's default.
PREFERENCE_COLUMNS = ("min_importance", "areas", "language", "cadence")
# Rows per store batch (one SQLite transaction, whole or not at all). Large, because each commit rewrites every
# index page its rows touched, and a list's addresses and their hashes land all over the indexes: a 100k import
# in batches of 1,000 wrote 11x the database's size (49x from a file in random order), in batches of 20,000
# under 3x (5x). Writing a batch in a thread while the next is read cost more CPU than it saved (the GIL is
# taken back for every row sqlite3 binds), so the batches are written in turn.
IMPORT_BATCH = 20_000
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = ("email", "name", "status", "source", "created_at", "updated_at", *PREFERENCE_COLUMNS)


@dataclass
class ImportReport:
    rows: int = 0
    added: int = 0
    present: int = 0  # already on the list, or earlier in the same file
    suppressed: list[int] = field(default_factory=list)  # line numbers of globally suppressed addresses
    invalid: list[tuple[int, str, str]] = field(default_factory=list)  # (line, cell, why)


@dataclass(frozen=True)
class _Layout:
    email: int
    name: int | None
    rows: int
    choices: dict[str, int] = field(default_factory=dict)  # preference column → its index


def _open(path: Path) -> TextIO:
    try:
        # utf-8-sig: a BOM (Excel's "CSV UTF-8") is skipped, and a file without one reads the same.
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None


@contextmanager
def _reading(path: Path, reader: Any) -> Iterator[None]:
    """A csv.reader's failures as InputError naming the file and the line."""
    try:
        yield
    except csv.Error as err:
        raise InputError(f"{path}: line {reader.line_num}: not valid CSV: {err}") from None
    except UnicodeDecodeError as err:
        raise InputError(
            f"{path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} after line {reader.line_num})",
            hint="save the file as CSV UTF-8",
        ) from None


def check_csv(path: Path) -> _Layout:
    """The first pass: the header and the whole file's syntax; raises InputError naming the file and line."""
    with _open(path) as handle:
        reader = csv.reader(handle, strict=True)
        with _reading(path, reader):
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path}: the file is empty", hint="the first line must be the header email[,name]")
            columns = [c.strip().lower() for c in header]
            if "email" not in columns:
                raise InputError(
                    f"{path}: line 1: no 'email' column in the header {','.join(header)[:60]!r}",
                    hint="the first line must be the header email[,name]",
                )
            count = sum(1 for row in reader if row)
    choices = {c: columns.index(c) for c in PREFERENCE_COLUMNS if c in columns}
    return _Layout(columns.index("email"), columns.index("name") if "name" in columns else None, count, choices)


class RosterStore(Subscribers, PreferenceStore, Protocol):
    """What import and export need from a store."""


def import_csv(
    store: RosterStore,
    path: Path,
    mailing_list: MailingList,
    *,
    status: MemberStatus,
    source: str,
    batch_size: int = IMPORT_BATCH,
    progress: Progress | None = None,
) -> ImportReport:
    """Add every valid address of ``path`` to the list as ``status``, reporting rows done to ``progress``.
    Preference columns are checked like the rest of a row and applied to the people the import adds."""
    list_id = mailing_list.id
    layout = check_csv(path)
    bar: Progress = progress or NoProgress()
    bar.start("importing", layout.rows)
    report = ImportReport()
    reported = 0
    batch: list[tuple[str, str | None]] = []
    lines: list[int] = []  # the line of each row of the batch, for the report
    chosen: dict[str, ReaderPreferences] = {}  # the preferences of the current batch's rows that have some

    def flush() -> None:
        nonlocal reported
        outcome = store.add_members(batch, list_id, status=status, source=source, preferences=chosen)
        report.added += len(outcome.added)
        report.present += len(outcome.present)
        if outcome.suppressed:
            first: dict[str, int] = {}
            for (email, _), line in zip(batch, lines, strict=True):
                first.setdefault(email, line)
            report.suppressed.extend(first[e] for e in outcome.suppressed)
        batch.clear()
        lines.clear()
        chosen.clear()
        bar.advance(report.rows - reported)
        reported = report.rows

    # The hot loop: 100,000 rows in well under a second of Python (bench/subscribers.py), so it reads the
    # csv module's rows directly and keeps what it looks up per row in locals.
    at, name_at, choices = layout.email, layout.name, layout.choices
    with _open(path) as handle:
        reader = csv.reader(handle, strict=True)
        with _reading(path, reader):
            next(reader)  # the header
            for row in reader:
                if not row:
                    continue
                report.rows += 1
                cell = row[at] if at < len(row) else ""
                try:
                    email = normalise_email(_unneutralise(cell))
                    if choices:  # a file without preference columns leaves everyone at the list's defaults
                        cells = {c: _unneutralise(row[i]) if i < len(row) else "" for c, i in choices.items()}
                        prefs = choose(mailing_list, **cells)
                        if not prefs.is_default:
                            chosen.setdefault(email, prefs)
                except InputError as err:
                    report.invalid.append((reader.line_num, cell, str(err).split(": ", 1)[-1]))
                    continue
                # Every column that export neutralises is restored, so that export → import is the identity.
                name = _unneutralise(row[name_at]) if name_at is not None and name_at < len(row) else ""
                batch.append((email, name or None))
                lines.append(reader.line_num)
                if len(batch) >= batch_size:
                    flush()
            if batch:
                flush()
    return report


def export_csv(store: RosterStore, list_id: str, out: TextIO, *, status: MemberStatus | None = None) -> int:
    """Write the list's members as CSV, streamed; returns the number of rows."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    # Both streams come in email order: a merge join keeps memory at one page of each.
    choices = store.list_preferences(list_id)
    pending = next(choices, None)
    for m in store.members(list_id, status):
        while pending is not None and pending[0] < m.email:
            pending = next(choices, None)
        prefs = pending[1] if pending is not None and pending[0] == m.email else ReaderPreferences()
        cells = (m.email, m.name or "", m.status.value, m.source, m.created_at.isoformat(), m.updated_at.isoformat())
        writer.writerow([neutralise(c) for c in (*cells, *preference_cells(prefs))])
        count += 1
    return count


def preference_cells(prefs: ReaderPreferences) -> tuple[str, str, str, str]:
    return (
        prefs.min_importance.value if prefs.min_importance else "",
        " ".join(prefs.areas),
        prefs.language or "",
        prefs.cadence.value if prefs.cadence else "",
    )


def neutralise(cell: str) -> str:
    """A spreadsheet runs a cell that starts with = + - @ as a formula (CSV injection): prefix a quote."""
    return "'" + cell if cell.startswith(_FORMULA) else cell


def _unneutralise(cell: str) -> str:
    """Undo ``neutralise`` so that an exported file imports again."""
    cell = cell.strip()
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA) else cell
