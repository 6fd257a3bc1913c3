"""``newsletter subscribers …``: add, import, list, export, confirm, unsubscribe, suppress and forget people."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.table import Table

from newsletter.cli.app import Typer, app, console, context, err_console
from newsletter.cli.progress import RichProgress
from newsletter.errors import InputError
from newsletter.store.states import MemberStatus, SuppressionReason

subscribers = Typer(help="Manage the people on the mailing lists.", no_args_is_help=True)
app.add_typer(subscribers, name="subscribers")

ListOpt = Annotated[str, typer.Option("--list", "-l", help="The list id (subscribers/<id>.toml).")]
EmailArg = Annotated[str, typer.Argument(help="The email address.")]
ImportanceOpt = Annotated[
    str | None, typer.Option("--min-importance", help="Lowest importance mailed: high, medium or low ('' = list's).")
]
AreasOpt = Annotated[
    str | None,
    typer.Option("--areas", help="Only changes touching these paths, comma-separated, e.g. src/core/ ('' = all)."),
]
LangOpt = Annotated[str | None, typer.Option("--lang", help="One of the languages the list offers ('' = list's).")]
CadenceOpt = Annotated[str | None, typer.Option("--cadence", help="daily ('' = list's).")]


def _writer(out: Path | None) -> TextIO:
    if out is None:
        return sys.stdout
    try:
        return out.open("w", encoding="utf-8", newline="")
    except OSError as err:
        raise InputError(f"cannot write {out}: {err.strerror or err}") from None


@subscribers.command("add")
def add(
    email: EmailArg,
    list_id: ListOpt,
    name: Annotated[str | None, typer.Option("--name", help="The person's name.")] = None,
    confirmed: Annotated[
        bool, typer.Option("--confirmed", help="Active at once: consent was given elsewhere (no double opt-in).")
    ] = False,
    override: Annotated[
        bool, typer.Option("--override", help="Subscribe even a suppressed or unsubscribed address (they asked).")
    ] = False,
    min_importance: ImportanceOpt = None,
    areas: AreasOpt = None,
    lang: LangOpt = None,
    cadence: CadenceOpt = None,
) -> None:
    """Add one person to a list: pending with a confirmation token, or active with --confirmed."""
    from newsletter import preferences, subscriptions

    with context() as ctx:
        mailing_list = ctx.mailing_list(list_id)
        choices = {"min_importance": min_importance, "areas": areas, "language": lang, "cadence": cadence}
        preferences.choose(mailing_list, **choices)  # checked before anyone is added
        tokens = None if confirmed else ctx.tokens
        done = subscriptions.subscribe(
            ctx.store, tokens, email, list_id, name=name, source="cli", confirmed=confirmed, override=override
        )
        chosen = None
        if any(value is not None for value in choices.values()):
            chosen = preferences.update(ctx.store, mailing_list, done.email, source="cli", **choices)
    status = done.transition.after.value if done.transition.after else "?"
    verb = "now" if done.transition.changed else "already"
    console.print(f"{done.email} is {verb} {status} on {list_id}", highlight=False, soft_wrap=True)
    if chosen is not None:
        console.print(f"preferences: {preferences.describe(chosen)}", highlight=False, soft_wrap=True)
    if done.token:
        console.print(f"confirm with: newsletter subscribers confirm {done.token}", highlight=False, soft_wrap=True)


@subscribers.command("set")
def set_(
    email: EmailArg,
    list_id: ListOpt,
    min_importance: ImportanceOpt = None,
    areas: AreasOpt = None,
    lang: LangOpt = None,
    cadence: CadenceOpt = None,
) -> None:
    """Change a member's preferences (logged; they hold from the next issue). '' resets one to the list's."""
    from newsletter import preferences, subscriptions

    with context() as ctx:
        mailing_list = ctx.mailing_list(list_id)
        address = subscriptions.normalise_email(email)
        chosen = preferences.update(
            ctx.store,
            mailing_list,
            address,
            source="cli",
            min_importance=min_importance,
            areas=areas,
            language=lang,
            cadence=cadence,
        )
    console.print(f"{address} on {list_id}: {preferences.describe(chosen)}", highlight=False, soft_wrap=True)


@subscribers.command("remove")
def remove(email: EmailArg, list_id: ListOpt) -> None:
    """Delete a person's membership of a list (the consent log keeps a 'removed' entry)."""
    from newsletter import subscriptions
    from newsletter.lists import check_list_id

    email = subscriptions.normalise_email(email)
    with context() as ctx:
        removed = ctx.store.remove_member(email, check_list_id(list_id), source="cli")
    if removed:
        console.print(f"removed {email} from {list_id}", highlight=False, soft_wrap=True)
    else:
        console.print(f"{email} was not on {list_id}", highlight=False, soft_wrap=True)


@subscribers.command("ls")
def ls(
    list_id: ListOpt,
    status: Annotated[MemberStatus | None, typer.Option("--status", "-s", help="Only this status.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Show at most this many (0: all).", min=0)] = 100,
) -> None:
    """List the members of a list, by email, with status and the source of the last change."""
    table = Table(title=f"{list_id}" + (f" ({status.value})" if status else ""))
    for column in ("email", "name", "status", "since", "source"):
        table.add_column(column)
    more = False
    with context() as ctx:
        ctx.mailing_list(list_id)  # a list that does not exist is an error, not an empty table
        for shown, m in enumerate(ctx.store.members(list_id, status)):
            if limit and shown >= limit:
                more = True
                break
            table.add_row(m.email, m.name or "", m.status.value, f"{m.updated_at:%Y-%m-%d %H:%M}", m.source)
    console.print(table)
    if more:
        console.print(f"showing the first {limit}: use --limit 0 for all, or `newsletter subscribers export`")


@subscribers.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with a header line email[,name][,min_importance,areas,language,cadence]; UTF-8, BOM or not."
        ),
    ],
    list_id: ListOpt,
    confirmed: Annotated[
        bool, typer.Option("--confirmed", help="Import as active: consent was given elsewhere.")
    ] = False,
) -> None:
    """Import people from a CSV file (idempotent: people already on the list are left as they are)."""
    from newsletter import roster

    status = MemberStatus.ACTIVE if confirmed else MemberStatus.PENDING
    with context() as ctx, RichProgress() as bar:
        mailing_list = ctx.mailing_list(list_id)
        source = f"import:{file.name}"
        report = roster.import_csv(ctx.store, file, mailing_list, status=status, source=source, progress=bar)
    for line, cell, why in report.invalid:
        console.print(f"line {line}: invalid address {cell!r}: {why}", highlight=False, soft_wrap=True)
    for line in report.suppressed:
        console.print(f"line {line}: suppressed address, skipped", highlight=False, soft_wrap=True)
    console.print(
        f"{file}: {report.rows:,} rows: {report.added:,} added as {status.value}, {report.present:,} already present,"
        f" {len(report.invalid):,} invalid, {len(report.suppressed):,} suppressed",
        highlight=False,
        soft_wrap=True,
    )


@subscribers.command("export")
def export(
    list_id: ListOpt,
    status: Annotated[MemberStatus | None, typer.Option("--status", "-s", help="Only this status.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of standard output.")] = None,
) -> None:
    """Export a list's members as CSV (cells that a spreadsheet would run as formulas are neutralised)."""
    from newsletter import roster

    with context() as ctx:
        ctx.mailing_list(list_id)  # a list that does not exist is an error, not an empty file
        handle = _writer(out)
        try:
            count = roster.export_csv(ctx.store, list_id, handle, status=status)
        finally:
            if out is not None:
                handle.close()
    err_console.print(
        f"exported {count:,} members of {list_id}" + (f" to {out}" if out else ""), highlight=False, soft_wrap=True
    )


@subscribers.command("confirm")
def confirm(token: Annotated[str, typer.Argument(help="The token from the confirmation link.")]) -> None:
    """Confirm a subscription (double opt-in): pending → active."""
    from newsletter import subscriptions

    with context() as ctx:
        done = subscriptions.confirm(ctx.store, ctx.tokens, token, source="cli")
    verb = "confirmed" if done.transition.changed else "was already confirmed"
    console.print(f"{done.email} {verb} on {done.list_id}", highlight=False, soft_wrap=True)


@subscribers.command("unsubscribe")
def unsubscribe(email: EmailArg, list_id: ListOpt) -> None:
    """Unsubscribe a person from a list, at once (idempotent)."""
    from newsletter import subscriptions
    from newsletter.lists import check_list_id

    with context() as ctx:
        change = subscriptions.unsubscribe(ctx.store, email, check_list_id(list_id), source="cli")
    email = subscriptions.normalise_email(email)
    if change.changed:
        console.print(f"unsubscribed {email} from {list_id}", highlight=False, soft_wrap=True)
    elif change.before is None:
        console.print(f"{email} is not on {list_id}: nothing to do", highlight=False, soft_wrap=True)
    else:
        console.print(f"{email} was already unsubscribed from {list_id}", highlight=False, soft_wrap=True)


@subscribers.command("suppress")
def suppress(
    email: EmailArg,
    reason: Annotated[
        str, typer.Option("--reason", help=f"One of {', '.join(r.value for r in SuppressionReason)}.")
    ] = SuppressionReason.MANUAL.value,
) -> None:
    """Never mail an address again, on any list (bounced, complained or manual)."""
    from newsletter import subscriptions

    with context() as ctx:
        email = subscriptions.suppress(ctx.store, email, reason, source="cli")
    console.print(f"suppressed {email} ({reason}) on every list", highlight=False, soft_wrap=True)


@subscribers.command("forget")
def forget(
    email: EmailArg,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the export here (JSON).")] = None,
) -> None:
    """Export everything held about a person (JSON), then erase it; a suppression stays, as a hash only."""
    from newsletter import subscriptions

    def write(text: str) -> None:
        handle = _writer(out)
        try:
            handle.write(text + "\n")
        finally:
            if out is not None:
                handle.close()

    with context() as ctx:
        deleted = subscriptions.forget(ctx.store, email, write)
    err_console.print(
        f"erased {deleted} records" + (f"; the export is in {out}" if out else ""), highlight=False, soft_wrap=True
    )
