"""The key-less analysis written from facts: what changed, for whom, what may break and what to do.

Every sentence is a catalogue template (en, zh-CN) filled with facts: names, paths and values taken verbatim
from the diff, the author's own words only as marked quotes with their source. It never states a figure the
commit, its PR or its diff does not contain (no counts of its own making).
"""

from __future__ import annotations

from collections.abc import Sequence

from newsletter.analyze.facts import Fact, FactKind, Facts, Scope
from newsletter.analyze.paths import directory
from newsletter.i18n import t

NAMES = 4  # names listed in one sentence; more are "…"
QUOTE = 220  # characters of an author's quote


def _code(names: Sequence[str]) -> str:
    shown = [f"`{n}`" for n in dict.fromkeys(names)][:NAMES]
    return ", ".join(shown) + (", …" if len(dict.fromkeys(names)) > NAMES else "")


def _where(found: Sequence[Fact]) -> str:
    paths = list(dict.fromkeys(f.path for f in found if f.path))
    return ", ".join(paths[:2]) + (", …" if len(paths) > 2 else "")


def _clip(text: str, limit: int = QUOTE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _distinct(found: Sequence[Fact]) -> list[Fact]:
    """One fact per name and change (the same default moved in several files is one change)."""
    return list({(f.name, f.old, f.new): f for f in reversed(found)}.values())[::-1]


def _value(value: str | None) -> str:
    return f"`{value}`" if value else "—"


# One sentence per kind of named fact, in this order: (kind → catalogue key); the sentence gets the names
# (`names`) and the files they were found in (`where`).
_SUMMARY_NAMED = {
    FactKind.ENV_REMOVED: "facts.env_removed",
    FactKind.ENV_ADDED: "facts.env_added",
    FactKind.CONFIG_KEY_REMOVED: "facts.keys_removed",
    FactKind.CONFIG_KEY_ADDED: "facts.keys_added",
    FactKind.ROUTE_REMOVED: "facts.routes_removed",
    FactKind.ROUTE_ADDED: "facts.routes_added",
    FactKind.SYMBOL_REMOVED: "facts.symbols_removed",
    FactKind.SYMBOL_ADDED: "facts.symbols_added",
}
_RISKS_NAMED = {
    FactKind.ENV_REMOVED: "facts.risk_env",
    FactKind.CONFIG_KEY_REMOVED: "facts.risk_key",
    FactKind.ROUTE_REMOVED: "facts.risk_route",
    FactKind.SYMBOL_REMOVED: "facts.risk_symbol",
}
_DO_NAMED = {
    FactKind.ENV_REMOVED: "facts.do_env",
    FactKind.CONFIG_KEY_REMOVED: "facts.do_key",
    FactKind.SYMBOL_REMOVED: "facts.do_symbol",
}


def _named(facts: Facts, keys: dict[FactKind, str], language: str) -> list[str]:
    """One sentence for each kind of ``keys`` that has facts, naming them and where they were found."""
    lines = []
    for kind, key in keys.items():
        if found := facts.of(kind):
            lines.append(t(language, key, names=_code([f.name for f in found]), where=_where(found)))
    return lines


def _renames(found: Sequence[Fact]) -> str:
    """`old` → `new`, … (at most NAMES)."""
    pairs = [f"`{f.old}` → `{f.name}`" for f in found]
    return ", ".join(pairs[:NAMES]) + (", …" if len(pairs) > NAMES else "")


def summary(facts: Facts, language: str) -> list[str]:
    """What the diff does, most user-visible first."""
    facts = facts.for_reading()
    of = facts.of
    lines = []
    if found := of(FactKind.RENAMED):
        lines.append(t(language, "facts.renamed", pairs=_renames(found), where=_where(found)))
    lines += _named(facts, {FactKind.FLAG_REMOVED: "facts.flags_removed"}, language)
    if found := of(FactKind.FLAG_ADDED):
        first = found[0]
        extra = (
            t(language, "facts.flag_choices", choices=first.detail.removeprefix("choices: "))
            if (first.detail and first.detail.startswith("choices:"))
            else ""
        )
        lines.append(
            t(language, "facts.flags_added", names=_code([f.name for f in found]), where=_where(found), extra=extra)
        )
    for fact in _distinct(of(FactKind.DEFAULT_CHANGED))[:3]:
        lines.append(
            t(
                language,
                "facts.default_changed",
                name=fact.name,
                old=_value(fact.old),
                new=_value(fact.new),
                where=fact.path or "",
            )
        )
    lines += _named(facts, _SUMMARY_NAMED, language)
    for fact in of(FactKind.DEPENDENCY_CHANGED)[:3]:
        lines.append(t(language, "facts.dep_changed", name=fact.name, old=_value(fact.old), new=_value(fact.new)))
    if found := of(FactKind.DEPENDENCY_ADDED):
        lines.append(t(language, "facts.deps_added", names=_code([f"{f.name}{f.new or ''}" for f in found])))
    if found := of(FactKind.DEPENDENCY_REMOVED):
        lines.append(t(language, "facts.deps_removed", names=_code([f.name for f in found])))
    for fact in of(FactKind.VERSION_CHANGED)[:1]:
        lines.append(t(language, "facts.version", old=_value(fact.old), new=_value(fact.new), where=fact.path or ""))
    for fact in of(FactKind.IMAGE_CHANGED)[:1]:
        lines.append(t(language, "facts.image", name=fact.name, old=_value(fact.old), new=_value(fact.new)))
    if found := of(FactKind.LICENCE_CHANGED):
        lines.append(t(language, "facts.licence", where=_where(found) or found[0].name))
    if found := of(FactKind.FILE_DELETED):
        lines.append(t(language, "facts.deleted", names=_code([f.name for f in found])))
    if found := [f for f in of(FactKind.TESTS_ADDED)]:
        lines.append(t(language, "facts.tests_added", names=_code([f.name for f in found])))
    if facts.scope in {Scope.DOCS, Scope.TESTS, Scope.CI, Scope.CI_TESTS_DOCS}:
        lines.append(t(language, f"facts.scope_{facts.scope.value}"))
    elif facts.cosmetic:
        lines.append(t(language, "facts.cosmetic"))
    return lines


def quotes(facts: Facts, language: str, limit: int = 2) -> list[str]:
    """The author's own words, marked as quotes with where they came from: the PR's sections first, then its
    figures (a benchmark table row is quoted, never restated)."""
    lines = []
    for fact in facts.of(FactKind.PR_SECTION)[:limit]:
        lines.append(t(language, "facts.quote", source=fact.source, text=_clip(fact.quote or "")))
    for fact in facts.of(FactKind.PR_FIGURE)[:limit]:
        text = f"{fact.detail} {fact.quote}" if fact.detail else fact.quote or ""
        lines.append(t(language, "facts.figure", source=fact.source, text=_clip(text)))
    return lines


def areas(facts: Facts, paths: Sequence[str]) -> list[str]:
    return facts.areas or list(dict.fromkeys(directory(p) for p in paths))[:3]


def impact(facts: Facts, paths: Sequence[str], language: str) -> str | None:
    """Who is affected: the people who run or configure what changed, else the code's areas."""
    if facts.scope is Scope.NONE:
        return None
    if facts.only_ci_tests_docs() or facts.cosmetic:
        return t(language, "facts.impact_none")
    facts = facts.for_reading()
    renamed = [f for f in facts.of(FactKind.RENAMED) if f.detail != "symbol"]
    surface = renamed + facts.of(
        FactKind.FLAG_REMOVED,
        FactKind.FLAG_ADDED,
        FactKind.DEFAULT_CHANGED,
        FactKind.ENV_REMOVED,
        FactKind.ENV_ADDED,
        FactKind.CONFIG_KEY_REMOVED,
        FactKind.ROUTE_REMOVED,
        FactKind.ROUTE_ADDED,
    )
    where = ", ".join(f"`{a}`" for a in areas(facts, paths))
    if surface:
        return t(language, "facts.impact_users", where=_where(surface), areas=where)
    if facts.of(FactKind.SYMBOL_REMOVED, FactKind.RENAMED):
        return t(language, "facts.impact_api", areas=where)
    deps = facts.of(FactKind.DEPENDENCY_ADDED, FactKind.DEPENDENCY_CHANGED, FactKind.DEPENDENCY_REMOVED)
    if deps:
        return t(language, "facts.impact_deps", where=_where(deps))
    return t(language, "facts.impact_code", areas=where) if where else None


def risks(facts: Facts, language: str) -> list[str]:
    facts = facts.for_reading()
    of = facts.of
    out = []
    if found := of(FactKind.RENAMED):
        olds = ", ".join(f"`{f.old}`" for f in found[:NAMES]) + (", …" if len(found) > NAMES else "")
        out.append(t(language, "facts.risk_renamed", olds=olds))
    out += _named(facts, {FactKind.FLAG_REMOVED: "facts.risk_flag"}, language)
    for fact in _distinct(of(FactKind.DEFAULT_CHANGED))[:2]:
        out.append(t(language, "facts.risk_default", name=fact.name, old=_value(fact.old), new=_value(fact.new)))
    out += _named(facts, _RISKS_NAMED, language)
    if of(FactKind.DEPENDENCY_CHANGED, FactKind.DEPENDENCY_ADDED, FactKind.DEPENDENCY_REMOVED):
        out.append(t(language, "facts.risk_deps"))
    if facts.source_lines >= 150 and not facts.tests_touched:
        out.append(t(language, "facts.risk_untested"))
    return out


def recommendations(facts: Facts, language: str) -> list[str]:
    facts = facts.for_reading()
    of = facts.of
    out = []
    if found := of(FactKind.RENAMED):
        out.append(t(language, "facts.do_renamed", pairs=_renames(found)))
    out += _named(facts, {FactKind.FLAG_REMOVED: "facts.do_flag"}, language)
    for fact in _distinct(of(FactKind.DEFAULT_CHANGED))[:2]:
        out.append(t(language, "facts.do_default", name=fact.name, old=_value(fact.old)))
    out += _named(facts, _DO_NAMED, language)
    if of(FactKind.DEPENDENCY_CHANGED, FactKind.DEPENDENCY_ADDED, FactKind.DEPENDENCY_REMOVED):
        out.append(t(language, "facts.do_deps"))
    if found := of(FactKind.FLAG_ADDED, FactKind.ENV_ADDED, FactKind.CONFIG_KEY_ADDED):
        out.append(t(language, "facts.do_new", names=_code([f.name for f in found])))
    if facts.licence_changed():
        out.append(t(language, "facts.do_licence"))
    return out
