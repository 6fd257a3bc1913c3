"""Local preview of a rendered issue: write its three parts to a folder and, on request, serve the folder."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from newsletter.errors import InputError
from newsletter.models import RenderedIssue
from newsletter.render.links import LOCAL_WEB_VERSION


@dataclass(frozen=True)
class PreviewFiles:
    html: Path
    text: Path
    markdown: Path
    web: Path


def write_preview(rendered: RenderedIssue, folder: Path) -> PreviewFiles:
    """The email's issue.html and issue.txt, issue.md, and the web version web.html (the whole issue, as the
    archive publishes it) in ``folder`` (created), exactly as rendered: placeholders and all."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        web = folder / LOCAL_WEB_VERSION  # where the email's links lead when the issue has no archive page
        files = PreviewFiles(folder / "issue.html", folder / "issue.txt", folder / "issue.md", web)
        files.html.write_text(rendered.html, encoding="utf-8")
        files.text.write_text(rendered.text, encoding="utf-8")
        files.markdown.write_text(rendered.markdown, encoding="utf-8")
        files.web.write_text(rendered.web_html or rendered.html, encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot write the preview to {folder}: {err.strerror}", hint="choose another --out") from err
    return files


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # the CLI says where to look; no access log
        pass


def open_server(folder: Path, port: int) -> ThreadingHTTPServer:
    """An HTTP server for ``folder`` on 127.0.0.1:``port`` (0 picks a free port); the caller runs it."""
    handler = functools.partial(_Quiet, directory=str(folder))
    try:
        return ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as err:
        raise InputError(
            f"cannot listen on 127.0.0.1:{port}: {err.strerror}", hint="pick another --serve port"
        ) from err


def serve(folder: Path, port: int, on_ready: Callable[[str], None]) -> None:
    """Serve ``folder`` until interrupted (Ctrl-C ends it quietly)."""
    with open_server(folder, port) as server:
        on_ready(f"http://127.0.0.1:{server.server_address[1]}/issue.html")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
