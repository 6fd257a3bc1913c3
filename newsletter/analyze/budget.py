"""A commit's diff compressed to a token budget, so that a 2 MB refactor still fits in one prompt.

Token counts are ESTIMATES: tiktoken needs to download its encodings, which a sealed machine cannot, and
servers behind OPENAI_BASE_URL use other tokenizers anyway. We count ASCII text at 3.5 characters per
token (the usual figure for source code with BPE tokenizers; English prose is nearer 4, so code-heavy
prompts are estimated conservatively) and every non-ASCII character (CJK in zh-CN prompts) as one token.

Order of preference: source, then tests, docs, build files; lockfiles, generated and vendored files and
binaries are listed by name only. Each file's patch is capped; hunks that only delete lines are shortened;
removed files are named, not shown. Every file that is not shown in full is named with the reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from newsletter.analyze.paths import Kind, kind_of, top_dirs
from newsletter.models import FileChange

CHARS_PER_TOKEN = 3.5
_ORDER = {
    Kind.SOURCE: 0,
    Kind.TEST: 1,
    Kind.EXAMPLE: 2,
    Kind.DOCS: 2,
    Kind.BUILD: 3,
    Kind.CI: 3,
    Kind.LOCKFILE: 9,
    Kind.GENERATED: 9,
    Kind.VENDORED: 9,
    Kind.BINARY: 9,
}
_NAME_ONLY = {Kind.LOCKFILE, Kind.GENERATED, Kind.VENDORED, Kind.BINARY}
_HUNK = re.compile(r"^@@ ", re.M)
_KEEP_DELETED = 3  # lines kept from a deletion-only hunk


def estimate_tokens(text: str) -> int:
    # Counted without a loop in Python: every prompt, file and line of a diff is estimated, often several times.
    non_ascii = 0 if text.isascii() else len(text) - len(text.encode("ascii", "ignore"))
    return math.ceil((len(text) - non_ascii) / CHARS_PER_TOKEN) + non_ascii


@dataclass
class FileEntry:
    path: str
    status: str
    additions: int
    deletions: int
    kind: str
    shown: str  # "full" | "truncated" | "name"
    reason: str | None = None  # why not shown in full
    patch: str | None = None

    @property
    def line(self) -> str:
        """How the file appears in the prompt's file list."""
        note = {"full": "", "truncated": f" [diff truncated: {self.reason}]", "name": f" [not shown: {self.reason}]"}
        return f"{self.status} {self.path} (+{self.additions}/-{self.deletions}){note[self.shown]}"


@dataclass
class DiffDigest:
    files: list[FileEntry] = field(default_factory=list)
    omitted_groups: list[tuple[str, int]] = field(default_factory=list)  # (folder, files) when names overflow
    tokens: int = 0

    @property
    def omitted(self) -> list[FileEntry]:
        return [f for f in self.files if f.shown != "full"]


def shorten_deletions(patch: str) -> str:
    """Hunks that only remove lines keep their header and first lines: what was deleted matters less than
    what was written, and big deletions would crowd out the rest of the diff."""
    starts = [m.start() for m in _HUNK.finditer(patch)] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)
    out = []
    for begin, end in zip(starts, [*starts[1:], len(patch)], strict=True):
        hunk = patch[begin:end]
        lines = hunk.splitlines()
        body = lines[1:] if lines and lines[0].startswith("@@") else lines
        removed = [ln for ln in body if ln.startswith("-")]
        added = [ln for ln in body if ln.startswith("+")]
        if not added and len(removed) > _KEEP_DELETED + 1:
            kept = [ln for ln in body if ln.startswith("-")][:_KEEP_DELETED]
            head = lines[:1] if lines and lines[0].startswith("@@") else []
            note = f"-… {len(removed) - _KEEP_DELETED} more deleted lines"
            hunk = "\n".join([*head, *kept, note]) + "\n"
        out.append(hunk)
    return "".join(out)


def _cap(patch: str, max_tokens: int) -> tuple[str, bool]:
    if estimate_tokens(patch) <= max_tokens:
        return patch, False
    kept: list[str] = []
    used = 0
    lines = patch.splitlines()
    for line in lines:
        cost = estimate_tokens(line) + 1
        if used + cost > max_tokens:
            break
        kept.append(line)
        used += cost
    return "\n".join([*kept, f"… truncated: {len(lines) - len(kept)} more lines"]), True


def _line(entry: FileEntry) -> str:
    return entry.line


def compress(files: list[FileChange], budget: int) -> DiffDigest:
    """Choose what of ``files`` fits in ``budget`` estimated tokens (file list and patches together)."""
    entries = []
    for f in files:
        kind = kind_of(f.path)
        entry = FileEntry(f.path, f.status, f.additions, f.deletions, kind.value, "name")
        if kind in _NAME_ONLY:
            entry.reason = kind.value
        elif f.status == "removed":
            entry.reason = "file removed"
        elif not f.patch:
            entry.reason = "no diff from GitHub (binary or too large)"
        else:
            entry.patch = shorten_deletions(f.patch)
        entries.append(entry)

    digest = DiffDigest(files=entries)
    # The list of files comes first and is always complete, unless the names alone would eat half the budget.
    list_cost = sum(estimate_tokens(_line(e)) + 1 for e in entries)
    if list_cost > budget // 2:
        _group_names(digest, budget // 2)
        list_cost = sum(estimate_tokens(_line(e)) + 1 for e in digest.files) + 20 * len(digest.omitted_groups)
    remaining = budget - list_cost
    per_file = max(budget // 6, 600)
    candidates = sorted(
        (e for e in digest.files if e.patch is not None),
        key=lambda e: (_ORDER[Kind(e.kind)], -(e.additions + e.deletions) if Kind(e.kind) is Kind.SOURCE else 0),
    )
    for entry in candidates:
        assert entry.patch is not None
        header_cost = estimate_tokens(entry.path) + 12
        # Reserve room for the "[diff truncated]"/"[not shown]" note that a skipped or capped file adds.
        available = min(per_file, remaining - header_cost - 12)
        if available < 80:
            entry.shown, entry.reason, entry.patch = "name", "prompt budget", None
            remaining -= 6
            continue
        patch, cut = _cap(entry.patch, available)
        entry.patch = patch
        entry.shown = "truncated" if cut else "full"
        entry.reason = "per-file cap" if cut and available == per_file else ("prompt budget" if cut else None)
        remaining -= estimate_tokens(patch) + header_cost + (6 if cut else 0)
    digest.tokens = budget - remaining
    return digest


def _group_names(digest: DiffDigest, room: int) -> None:
    """Too many files to name them all: keep the biggest changes by name, group the rest by folder."""
    by_size = sorted(digest.files, key=lambda e: -(e.additions + e.deletions))
    named: list[FileEntry] = []
    used = 0
    for entry in by_size:
        cost = estimate_tokens(_line(entry)) + 1
        if used + cost > room * 0.8:
            break
        named.append(entry)
        used += cost
    keep = {id(e) for e in named}
    rest = [e.path for e in digest.files if id(e) not in keep]
    digest.files = [e for e in digest.files if id(e) in keep]
    groups = top_dirs(rest, limit=len(rest))
    max_groups = max(1, int((room - used) // 20))
    if len(groups) > max_groups:
        groups = [*groups[: max_groups - 1], ("other folders", sum(n for _, n in groups[max_groups - 1 :]))]
    digest.omitted_groups = groups
