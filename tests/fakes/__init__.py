"""Fakes of the outside world that speak real HTTP on loopback, so that the real client libraries run."""
