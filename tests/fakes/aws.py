"""AWS for tests: moto's real HTTP server on loopback (an ephemeral port), never its in-process decorators."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from moto.server import ThreadedMotoServer


@contextmanager
def moto_server() -> Iterator[str]:
    """Start a moto server on 127.0.0.1:<free port>; yield its endpoint URL (for AWS_ENDPOINT_URL)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
