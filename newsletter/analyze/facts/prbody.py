"""The author's own words: sections of the PR body (Motivation, Modifications, Benchmark, Accuracy …) and the
lines that carry figures, quoted verbatim with the section they came from. The commit message body stands in
when there is no PR."""

from __future__ import annotations

import re

from newsletter.analyze.facts.common import clip
from newsletter.analyze.facts.model import Fact, FactKind

_HEADING = re.compile(r"^\s*(?:#{1,6}\s+(?P<h1>.+?)\s*#*\s*$|\*\*(?P<h2>[^*]{2,60})\*\*:?\s*$)")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_CHECKLIST = re.compile(r"^\s*[-*] \[[ xX]\]")
_TRAILER = re.compile(r"^[A-Za-z][A-Za-z-]*: .+$")
# A figure: a number with a unit or a ratio, or a table row with a number in it.
_FIGURE = re.compile(
    r"\d(?:[\d,]*\d)?(?:\.\d+)?\s*(?:%|x\b|×|ms\b|s\b|sec|min\b|tok(?:en)?s?/s|it/s|req/s|GB|MB|GiB|MiB|TB|TFLOPS|QPS)"
    r"|\b(?:speed-?up|throughput|latency|accuracy|acceptance|acc_len|accept(?:ance)? length|score|tps)\b[^\n]*\d",
    re.I,
)
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}")
_NUMBER = re.compile(r"\d")
MAX_SECTIONS = 8
MAX_FIGURES = 12


def _sections(body: str) -> list[tuple[str, list[str]]]:
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in _COMMENT.sub("", body.replace("\r\n", "\n")).splitlines():
        heading = _HEADING.match(line)
        if heading:
            sections.append(((heading["h1"] or heading["h2"]).strip().rstrip(":"), []))
        else:
            sections[-1][1].append(line)
    return sections


def _paragraph(lines: list[str]) -> str | None:
    """The first paragraph of prose in a section, without checklists, tables, trailers or code."""
    text: list[str] = []
    in_code = False
    for line in lines:
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        if in_code or _CHECKLIST.match(line) or _TABLE_ROW.match(line) or _TRAILER.match(line.strip()):
            continue
        if not line.strip():
            if text:
                break
            continue
        text.append(re.sub(r"^[*-] ", "", line.strip()))
    joined = " ".join(text).strip()
    return joined if len(joined) >= 12 else None


def extract(body: str | None, *, source: str = "PR body") -> list[Fact]:
    """Facts of a PR body (``source`` "PR body") or of a commit message body (``source`` "commit message")."""
    if not body or not body.strip():
        return []
    facts: list[Fact] = []
    figures = 0
    for heading, lines in _sections(body):
        section = heading or ("commit message" if source == "commit message" else "description")
        paragraph = _paragraph(lines)
        if heading and paragraph and len([f for f in facts if f.kind is FactKind.PR_SECTION]) < MAX_SECTIONS:
            facts.append(Fact(kind=FactKind.PR_SECTION, name=heading, section=section, quote=clip(paragraph, 400)))
        header: str | None = None
        for line in lines:
            stripped = line.strip()
            if _TABLE_ROW.match(line):
                if _TABLE_RULE.match(stripped):
                    continue
                if header is None:
                    header = clip(stripped, 200)
                    continue
            else:
                header = None
            if figures >= MAX_FIGURES or not _NUMBER.search(stripped) or _CHECKLIST.match(line):
                continue
            if (_TABLE_ROW.match(line) and header) or _FIGURE.search(stripped):
                facts.append(
                    Fact(
                        kind=FactKind.PR_FIGURE,
                        name=section,
                        section=section,
                        quote=clip(stripped, 200),
                        detail=header if _TABLE_ROW.match(line) else None,
                    )
                )
                figures += 1
    return facts
