"""``newsletter serve``: the whole service in one long-running process, for a small server without AWS.

- The public endpoints (subscribe, confirm, unsubscribe with RFC 8058 one-click, preferences) and the web
  archive, behind waitress (``newsletter.serve.app``).
- With ``schedule``: the daily job every few minutes in a thread (``newsletter.serve.scheduler``).
- SIGTERM or Ctrl-C: the server stops taking connections and finishes the requests it has, the scheduler's
  campaign finishes the messages in flight and releases the rest in the ledger, and the process exits 0.

Why waitress: a production WSGI server in pure Python (no compiler, the same on every platform), one process
with a pool of threads — the right shape for synchronous code (sqlite3, smtplib, boto3) and for one SQLite
file, and the scheduler lives in the same process without being forked into several workers — and it has the
knobs a public endpoint needs: body and header size limits, idle timeouts, a connection limit and
``X-Forwarded-*`` handling that is off unless a proxy is named as trusted.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from newsletter.backends import make_sender
from newsletter.config import Settings
from newsletter.context import Context
from newsletter.errors import InputError
from newsletter.lists import load_lists
from newsletter.samples import sample_secret

log = logging.getLogger("newsletter.serve")

MAX_BODY = 1024 * 1024  # larger bodies are refused by waitress (413) before they are read; 16 KiB+ get a 400
MAX_HEADERS = 32 * 1024
IDLE_TIMEOUT = 30  # seconds a connection may sit idle (and a slow client may take to send its request)
STOP_GRACE = 60.0  # seconds the scheduler gets to wind down after SIGTERM
_PROXY_HEADERS = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port"})


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    schedule: bool = False
    every: float = 300.0  # seconds between two looks at which lists are due
    trust_proxy: str | None = None  # the reverse proxy's address whose X-Forwarded-* headers are believed
    threads: int = 8


def local_url(host: str, port: int) -> str:
    """What a browser on this machine types to reach the server."""
    if host in ("", "0.0.0.0", "::", "localhost"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def listen(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as err:
        raise InputError(f"cannot listen on {host}:{port}: {err.strerror or err}", hint="pick another --port") from err
    return sock


def serve(settings: Settings, options: ServeOptions, say: Callable[[str], None]) -> None:
    """Run until SIGTERM or Ctrl-C. ``say`` gets the lines a person starting it should read."""
    from waitress.server import create_server

    from newsletter.serve.app import App
    from newsletter.serve.scheduler import Scheduler

    sock = listen(options.host, options.port)
    address = local_url(options.host, sock.getsockname()[1])
    lists = load_lists(settings.lists_dir)  # a broken list file stops here, with one line
    configured = settings.public_url
    for kind in {m.delivery for m in lists.values()} | {None}:
        # smtp/ses without NEWSLETTER_PUBLIC_URL stop here, with one line (checked before it defaults below)
        make_sender(settings, kind).close()
    if not configured:
        # Outbox only: links in the mail sent from here (confirmations, scheduled issues) and the forms of the
        # pages point at this server.
        settings = settings.model_copy(update={"public_url": address})
    trial = not settings.secret and all((m.delivery or settings.delivery) == "outbox" for m in lists.values())
    # Outbox only and no secret (a first try after `newsletter run --sample`): the pages check links with the
    # data folder's sample secret, so the sample mail's links work. Real mail needs NEWSLETTER_SECRET, and so
    # does the scheduled job (it runs like `newsletter run`).
    ctx = Context(settings, secret=sample_secret(settings.data_dir) if trial else None)
    try:
        # What every request needs is opened (and checked) now, not by two request threads at once.
        _ = ctx.tokens, ctx.store
        for mailing_list in lists.values():
            ctx.sender_for(mailing_list)  # opened now, not by two request threads at once
        storage = ctx.archive.storage
        proxy = (
            {"trusted_proxy": options.trust_proxy, "trusted_proxy_count": 1, "trusted_proxy_headers": _PROXY_HEADERS}
            if options.trust_proxy
            else {}
        )
        server = create_server(
            App(ctx, storage),
            sockets=[sock],
            threads=options.threads,
            max_request_body_size=MAX_BODY,
            max_request_header_size=MAX_HEADERS,
            channel_timeout=IDLE_TIMEOUT,
            connection_limit=200,
            asyncore_use_poll=True,  # select() stops at 1,024 descriptors
            ident="newsletter",
            clear_untrusted_proxy_headers=True,
            **proxy,
        )
        say(f"listening on {address}  (subscribe: {address}/subscribe?list=LIST, archive: {address}/)")
        if configured:
            say(f"links in mail point at NEWSLETTER_PUBLIC_URL={configured}")
        else:
            say(
                f"NEWSLETTER_PUBLIC_URL is not set: links in outbox mail sent from here point at {address};"
                " smtp and ses delivery need it set to this server's public address"
            )
        if trial:
            say(
                "NEWSLETTER_SECRET is not set: links are checked with this data folder's sample secret (the sample"
                " mail's links work); set NEWSLETTER_SECRET before mailing anyone"
            )
        if not lists:
            say(f"no list files in {settings.lists_dir}: nothing to subscribe to yet")
        stop = threading.Event()
        scheduler = Scheduler(settings, options.every, stop) if options.schedule else None
        if scheduler is not None:
            say(f"schedule: every {options.every:g} s, each list due is run (its send_at, in its timezone)")
            scheduler.start()
        previous = signal.signal(signal.SIGTERM, _exit_loop)
        try:
            server.run()  # returns on SIGTERM or Ctrl-C, once the requests in progress are answered
        finally:
            signal.signal(signal.SIGTERM, previous)
            stop.set()
            with contextlib.suppress(OSError):
                server.close()
        if scheduler is not None:
            say("stopping: the send in progress finishes the messages in flight and releases the rest")
            scheduler.join(STOP_GRACE)
            if scheduler.is_alive():
                say(f"the scheduled job did not stop within {STOP_GRACE:g} s; the next start resumes it")
        say("stopped")
    finally:
        ctx.close()
        with contextlib.suppress(OSError):
            sock.close()


def _exit_loop(signum: int, frame: FrameType | None) -> None:
    # waitress's loop ends on SystemExit and KeyboardInterrupt (and shuts its request threads down cleanly).
    raise SystemExit(0)


def configure_logging() -> None:
    """One line per event on stderr: the access log, the schedule and errors; nothing from libraries below
    WARNING (they would print addresses and internals)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name, level in (("newsletter", logging.WARNING), ("waitress", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    for name in ("newsletter.access", "newsletter.serve", "newsletter.schedule"):
        logging.getLogger(name).setLevel(logging.INFO)
