"""Grounding: every figure and every `identifier` in a model's prose must occur in what it was shown.

A *figure* is any run of word characters holding a digit: a plain number, a number with a unit (``2.5x``,
``30%``, ``12 ms``, ``4GB``, ``1.2k tokens/s``), a version (``v0.3.0``) or a word with digits (``H100``,
``fp8``). Numbers are compared by their digits (``1,000`` is ``1000``) and, for ratios (x, ×, 倍, times) and
percentages, by their kind as well: "2.5x faster" is grounded by a source that says ``2.5x`` or "2.5 times",
not by a "2.5 ms". Other units are not compared (a benchmark table puts "ms" in its header, not beside each
number); the line ranges of diff hunk headers are positions, not figures, and ground nothing. Words with
digits and backticked identifiers are grounded when they occur in the sources as written (case, ``-`` versus
``_`` aside).

A sentence (or a bullet) that carries anything ungrounded is dropped whole: half a claim is not better.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

_CODE = re.compile(r"`([^`\n]+)`")
_URL = re.compile(r"https?://[^\s)>\]]+")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# A run of ASCII word characters holding a digit, with dotted continuations (decimals, versions). ASCII only:
# in "提升了2.5倍" the Chinese characters around the number are not part of it.
_TOKEN = re.compile(r"[A-Za-z0-9_]*\d[A-Za-z0-9_]*(?:\.\d+[A-Za-z0-9_]*)*")
_NUMBER = re.compile(r"v?(\d+(?:\.\d+)*)([A-Za-z]*)", re.I)
_UNITS = frozenset(
    {"", "x", "k", "m", "b", "t", "ms", "s", "us", "ns", "sec", "secs", "min", "mins", "h", "hr", "hrs", "d", "w"}
    | {"kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "bit", "bits", "hz", "khz", "mhz", "ghz"}
    | {"fps", "qps", "rps", "tps", "tflops", "gflops", "px", "pp", "st", "nd", "rd", "th"}
)
_RATIO = re.compile(r"\s?(?:[x×倍]|times\b|-fold\b|fold\b)", re.I)
_PERCENT = re.compile(r"\s?(?:[%％]|percent\b|pct\b)", re.I)
_MEASURE = re.compile(r"\s?(?:[mun]?s|sec|min|[kmgt]i?b|tokens?/s|tok/s|qps|rps|tps|fps|[kmg]?hz)\b", re.I)
_HUNK = re.compile(r"^@@ [^@\n]* @@", re.M)  # positions in a file, not figures anyone stated
_SENTENCES = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；])")
_LONG_DIGITS = 7  # a figure this long may be part of a SHA the sources spell in full


@dataclass(frozen=True)
class Figure:
    text: str  # as written, for the record
    core: str  # the digits ("2.5"), or the lowered word for words with digits ("h100")
    kind: str  # "ratio" | "percent" | "number" | "word"


def _normalise(text: str) -> str:
    return _THOUSANDS.sub("", text)


def figures(text: str, *, prose: bool = True) -> list[Figure]:
    """The figures of ``text``; in prose, outside code spans (identifiers, checked as such) and links. In
    sources (``prose=False``) every figure counts, a PR number inside a link too."""
    text = _normalise(_URL.sub(" ", _CODE.sub(" ", text)) if prose else text)
    found = []
    for match in _TOKEN.finditer(text):
        token = match[0]
        number = _NUMBER.fullmatch(token)
        if number is None or number[2].lower() not in _UNITS:
            found.append(Figure(token, token.lower(), "word"))
            continue
        after = text[match.end() :]
        suffix = number[2].lower()
        kind, unit = "number", ""
        if suffix == "x":
            kind = "ratio"
        elif not suffix and (ratio := _RATIO.match(after)):
            kind, unit = "ratio", ratio[0]
        elif not suffix and (percent := _PERCENT.match(after)):
            kind, unit = "percent", percent[0]
        elif not suffix and (measure := _MEASURE.match(after)):
            unit = measure[0]  # for the record only: "12 ms" is grounded by a stated 12
        found.append(Figure(token + unit, number[1], kind))
    return found


def _identifier_text(text: str) -> str:
    return " ".join(text.lower().replace("-", "_").split())


@dataclass(frozen=True)
class Sources:
    """Everything a model was shown for one answer (the user message of its prompt, plus the facts and the
    stats derived from the commit), indexed for the checks."""

    text: str

    @classmethod
    def of(cls, *parts: str | None) -> Sources:
        return cls("\n".join(p for p in parts if p))

    def indexed(self) -> Sources:
        """These sources with their index built now (ahead of an answer) rather than at the first check."""
        _ = self._figures, self._lowered
        return self

    @cached_property
    def _figures(self) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
        found = figures(_HUNK.sub(" ", self.text), prose=False)
        return frozenset(f.core for f in found), frozenset((f.core, f.kind) for f in found)

    @cached_property
    def _lowered(self) -> str:
        return _identifier_text(self.text)

    def grounds(self, figure: Figure) -> bool:
        cores, kinds = self._figures
        if figure.kind == "word":
            return figure.core in cores or _identifier_text(figure.core) in self._lowered
        if figure.kind in ("ratio", "percent"):
            return (figure.core, figure.kind) in kinds
        if figure.core in cores:
            return True
        # A short SHA ("232181b") reads as a number with a unit; the sources spell it in full.
        return len(figure.text) >= _LONG_DIGITS and figure.text.lower() in self._lowered

    def knows(self, identifier: str) -> bool:
        """An identifier from a code span: the whole of it, or each of its words, occurs in the sources."""
        span = _identifier_text(identifier.strip().removesuffix("()"))
        if not span or span in self._lowered:
            return True
        words = [w.strip("._/:") for w in re.split(r"[^\w./:]+", span)]
        words = [w for w in words if len(w) >= 2]
        return bool(words) and all(w in self._lowered for w in words)


def ungrounded(text: str, sources: Sources) -> list[str]:
    """What ``text`` states that ``sources`` do not: figures as written, identifiers in backticks."""
    missing = [f.text for f in figures(text) if not sources.grounds(f)]
    missing += [f"`{span}`" for span in _CODE.findall(text) if not sources.knows(span)]
    return missing


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCES.split(text.strip()) if s.strip()]


def clean(text: str | None, sources: Sources, dropped: list[str]) -> str | None:
    """``text`` without its sentences that carry anything ungrounded (recorded in ``dropped``); None when
    nothing is left."""
    if not text:
        return text
    if not (missing := ungrounded(text, sources)):
        return text
    kept, bad = [], []
    for sentence in sentences(text):
        found = ungrounded(sentence, sources)
        bad.extend(found)
        if not found:
            kept.append(sentence)
    if not bad:  # what is missing spans a sentence boundary: the whole text goes
        kept, bad = [], missing
    dropped.extend(bad)
    joiner = "" if any("\u3000" <= ch <= "\u9fff" for ch in text) else " "
    return joiner.join(s.strip() for s in kept) or None


def clean_items(items: list[str], sources: Sources, dropped: list[str]) -> list[str]:
    """The bullets of ``items`` that carry nothing ungrounded (the others are recorded in ``dropped``)."""
    kept = []
    for item in items:
        bad = ungrounded(item, sources)
        if bad:
            dropped.extend(bad)
        else:
            kept.append(item)
    return kept
