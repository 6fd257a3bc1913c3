"""The web archive: every issue as a public page, an index and an Atom feed per list, a root index.

Layout under the archive's root (a folder, or an S3 prefix served by CloudFront)::

    index.html                      every list, with its latest issue
    lists.json                      what index.html is built from
    <list>/index.html               the list's issues, newest first, and how to subscribe
    <list>/feed.xml                 Atom feed of the list's issues
    <list>/issues.json              what index.html and feed.xml are built from
    <list>/<YYYY-MM-DD>.html        the whole issue (the email's web version, never shed), minus anything personal
    <list>/<YYYY-MM-DD>.{txt,md}    its text and Markdown twins, same treatment
    <list>/<YYYY-MM-DD>.json        the issue's data and metadata, so that the site can be rebuilt

Beside the site, never under it, a private storage keeps what no page may show: an issue (or a part of one) too
large for its store record, as it is mailed (``keep_blob``/``read_blob``). For a folder ``…/archive`` it is the
folder ``…/archive.private``; on S3 the prefix ``private/<prefix>`` of the same bucket (CloudFront serves only
the site's prefix).

The rendered email holds per-recipient placeholders (models.Placeholder); a public page must never carry a
personal token, so they become neutral values: "view in browser" points at the page itself, unsubscribe and
preferences at the list page's explanation of where the personal links are, the address at a neutral word.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Protocol

from newsletter.archive.site import ArchivedIssue, Site
from newsletter.archive.storage import FolderStorage, S3Storage, Storage
from newsletter.issue import Issue
from newsletter.models import RenderedIssue

_PUBLIC_BLOBS = "_sendable/"

__all__ = ["Archive", "ArchivedIssue", "LocalArchive", "S3Archive", "SiteArchive", "Storage"]


class Archive(Protocol):
    def publish(self, issue: Issue, rendered: RenderedIssue) -> str:
        """Publish the issue's page (and refresh its list's index and feed); return the page's public URL."""
        ...

    def url_for(self, list_id: str, day: date) -> str:
        """The public URL the issue of ``list_id`` on ``day`` has (or will have once published)."""
        ...


class SiteArchive(Site):
    """The archive site over any storage, and its private storage; the subclasses below only say where the files
    go."""

    def __init__(self, storage: Storage, private: Storage, base_url: str, *, public_url: str | None = None) -> None:
        super().__init__(storage, base_url, public_url=public_url)
        self.private = private

    def keep_blob(self, key: str, data: bytes) -> None:
        """Keep a file outside the site (an issue, or a part of one, too large for its store record)."""
        self.private.write(key, data, content_type="application/octet-stream", cache_control="no-store")

    def read_blob(self, key: str) -> bytes | None:
        found = self.private.read(key)
        if found is None and key.startswith(_PUBLIC_BLOBS):  # kept inside the site by earlier versions
            found = self.storage.read(key)
        return found

    def copy_to(self, target: Site) -> int:
        """Write every archived issue into ``target`` (rebased on its URL) and rebuild its indexes and feeds.
        Returns the number of issues copied."""
        copied = 0
        for list_id, day, weekly in self.issue_keys():
            record = self.read_record(list_id, day, weekly=weekly)
            if record is None:
                continue
            parts = self.read_parts(list_id, day, weekly=weekly)
            target.write_record(list_id, day, record, parts, old_base=self.base_url, weekly=weekly)
            copied += 1
        target.reindex()
        return copied


class LocalArchive(SiteArchive):
    def __init__(self, folder: Path, base_url: str | None = None, *, public_url: str | None = None) -> None:
        self.folder = Path(folder)
        self.private_folder = self.folder.with_name(self.folder.name + ".private")
        super().__init__(
            FolderStorage(self.folder),
            FolderStorage(self.private_folder),
            base_url or self.folder.resolve().as_uri(),
            public_url=public_url,
        )


class S3Archive(SiteArchive):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        base_url: str | None = None,
        *,
        public_url: str | None = None,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if client is None:
            import boto3  # only where the archive is on S3: boto3 takes longer to import than the CLI to start

            client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)
        default = f"https://{bucket}.s3.amazonaws.com" + (f"/{self.prefix}" if self.prefix else "")
        private = S3Storage(client, bucket, "private" + (f"/{self.prefix}" if self.prefix else ""))
        super().__init__(S3Storage(client, bucket, self.prefix), private, base_url or default, public_url=public_url)
