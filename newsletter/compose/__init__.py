"""Compose: the day's Issue from the analysed commits. ``threads`` groups commits into changes (the analysis
reads them too); ``issue`` builds the repositories' digests, statistics and groups."""

from newsletter.compose.issue import compose_issue, digest, stats
from newsletter.compose.threads import find_threads

__all__ = ["compose_issue", "digest", "find_threads", "stats"]
