"""``newsletter archive``: the web archive of published issues."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newsletter.cli.app import Typer, app, console, context
from newsletter.errors import InputError

archive_app = Typer(help="The web archive: a page per issue, an index and an Atom feed per list.")
app.add_typer(archive_app, name="archive")


@archive_app.command("build")
def build(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the site into (created if missing).")],
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="Public URL the folder will be served from (default: its file:// URL)."),
    ] = None,
) -> None:
    """Write the whole archive site (pages, indexes, feeds) into a folder, from the issues already archived."""
    from newsletter.archive import LocalArchive

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder")
    with context() as ctx:
        config = ctx.settings
        target = LocalArchive(out, base_url, public_url=config.public_url)
        copied = ctx.archive.copy_to(target)
    if copied == 0:
        console.print(f"The archive ({config.archive_url}) holds no issue yet; wrote an empty site to {out}.")
    else:
        console.print(f"Wrote {copied} issue(s) to {out}/ (links point at {target.base_url}/index.html)")
