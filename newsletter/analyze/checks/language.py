"""Language: a zh-CN list reads Chinese prose, an en list English prose.

What is not prose is set aside first: code spans, URLs, quoted text, identifiers and paths (words with
digits, ``_``, ``.``, ``/``, acronyms, CamelCase), and any stretch copied verbatim from the sources (a
commit title quoted in a Chinese sentence is not English prose by the model). What remains is weighed:
Chinese characters against English words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from newsletter.analyze.checks.grounding import Sources

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")
_SET_ASIDE = re.compile(
    r"`[^`\n]*`"  # code spans
    r"|https?://\S+"  # links
    r"|“[^”]*”|\"[^\"\n]*\"|「[^」]*」|『[^』]*』|‘[^’]*’|《[^》]*》"  # quoted titles
    r"|[A-Za-z0-9_-]*(?:[0-9_]|[./\\:#@=<>][A-Za-z0-9_])[A-Za-z0-9_./\\:#@=<>-]*"  # identifiers, paths, versions
)
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_NOT_PROSE = re.compile(r"[A-Z]{2,}s?|[A-Za-z]+[A-Z][A-Za-z]*")  # acronyms (GPU, KV), CamelCase (PyTorch)
_LONE_ITEM = 8  # one field or bullet with this many English words and no Chinese is an English sentence
_COPIED_WORDS = 3  # a Latin stretch of at least this many words found in the sources is a quotation


def _words(text: str) -> int:
    return sum(1 for w in _WORD.findall(text) if not _NOT_PROSE.fullmatch(w) and len(w) > 1)


def _without_quotations(text: str, sources: Sources, language: str) -> str:
    """``text`` without the stretches in the other script that the sources contain as written."""
    haystack = " ".join(sources.text.lower().split())
    if language == "zh-CN":
        parts = _CJK_RUN.split(text)
        foreign = [p for p in parts if len(_WORD.findall(p)) >= _COPIED_WORDS]
    else:
        foreign = _CJK_RUN.findall(text)
    for part in foreign:
        needle = " ".join(part.strip(" ,.;:()[]-").lower().split())
        if needle and needle in haystack:
            text = text.replace(part, " ")
    return text


def weigh(text: str, sources: Sources, language: str) -> tuple[int, int]:
    """(Chinese characters, English words) of the prose in ``text``."""
    prose = _SET_ASIDE.sub(" ", _without_quotations(text, sources, language))
    return len(_CJK.findall(prose)), _words(prose)


def in_language(texts: Iterable[str | None], language: str, sources: Sources) -> bool:
    """Whether the prose of ``texts`` (the fields of one answer) is in ``language``."""
    total_cjk = total_words = 0
    for text in texts:
        if not text:
            continue
        cjk, words = weigh(text, sources, language)
        if language == "zh-CN" and words >= _LONE_ITEM and not cjk:
            return False
        if language != "zh-CN" and cjk >= _LONE_ITEM and not words:
            return False
        total_cjk += cjk
        total_words += words
    if not total_cjk and not total_words:
        return True  # nothing but identifiers and quotations: no prose to judge
    if language == "zh-CN":
        return total_cjk > 0 and total_cjk >= total_words
    return total_cjk < max(total_words, 1)
