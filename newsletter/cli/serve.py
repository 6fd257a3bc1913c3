"""``newsletter serve``: the public pages, the archive and (``--schedule``) the daily job, in one process."""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter.cli.app import app, err_console, settings


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).", min=0, max=65535)] = 8000,
    schedule: Annotated[
        bool, typer.Option("--schedule", help="Also run the daily job for the lists due, every --every seconds.")
    ] = False,
    every: Annotated[
        float, typer.Option("--every", help="Seconds between two looks at which lists are due.", min=1)
    ] = 300.0,
    trust_proxy: Annotated[
        str | None,
        typer.Option(
            "--trust-proxy",
            metavar="ADDRESS",
            help="Believe X-Forwarded-For/-Proto/-Host from the reverse proxy at this address (e.g. 127.0.0.1).",
        ),
    ] = None,
    threads: Annotated[int, typer.Option("--threads", help="Requests handled at once.", min=1, max=64)] = 8,
) -> None:
    """Serve subscribe, confirm, unsubscribe (with RFC 8058 one-click) and preferences — the same code as the
    AWS `http` handler — and the web archive, behind the waitress WSGI server. SIGTERM or Ctrl-C stops it
    cleanly: a send in progress finishes the messages in flight and leaves the rest to the next start."""
    from newsletter.serve import ServeOptions, configure_logging
    from newsletter.serve import serve as run_server

    s = settings()
    configure_logging()
    options = ServeOptions(
        host=host, port=port, schedule=schedule, every=every, trust_proxy=trust_proxy, threads=threads
    )
    run_server(s, options, lambda line: err_console.print(line, highlight=False, soft_wrap=True, markup=False))
