"""Where the archive's files live: a local folder or an S3 prefix. Keys are relative, '/'-separated."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from newsletter.errors import ArchiveError


class Storage(Protocol):
    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None: ...

    def read(self, key: str) -> bytes | None:
        """The file's bytes, or None when there is no such file."""
        ...

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Every key under ``prefix`` (relative to the archive's root), in no particular order."""
        ...


class FolderStorage:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        path = self.folder / key
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a reader (or a crash) never sees half a page.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError as err:
            raise ArchiveError(f"cannot write {path}: {err.strerror or err}", hint="check the folder") from err

    def read(self, key: str) -> bytes | None:
        path = self.folder / key
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise ArchiveError(f"cannot read {path}: {err.strerror or err}") from err

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        base = self.folder / prefix if prefix else self.folder
        if not base.is_dir():
            return
        for path in base.rglob("*"):
            if path.is_file() and not path.name.startswith(".tmp-"):
                yield path.relative_to(self.folder).as_posix()


class S3Storage:
    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, key: str, err: Exception) -> ArchiveError:
        return ArchiveError(
            f"S3 {action} s3://{self.bucket}/{self._key(key)} failed: {err}",
            hint="check NEWSLETTER_ARCHIVE, the bucket and the credentials",
        )

    # botocore is imported where S3 is used: a process that never touches S3 (the CLI on the embedded defaults,
    # every start) does not pay for it.
    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(key),
                Body=data,
                ContentType=content_type,
                CacheControl=cache_control,
            )
        except (ClientError, BotoCoreError) as err:
            raise self._fail("put", key, err) from err

    def read(self, key: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise self._fail("get", key, err) from err
        except BotoCoreError as err:
            raise self._fail("get", key, err) from err

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        root = f"{self.prefix}/" if self.prefix else ""
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=root + prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"][len(root) :]
        except (ClientError, BotoCoreError) as err:
            raise self._fail("list", prefix, err) from err
