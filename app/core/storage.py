"""Where image bytes live: a local folder (embedded mode) or an S3-compatible bucket.

Both backends take the same keys, so records store keys, never URLs or paths, and moving
to a CDN later only changes `url()`.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable
from urllib.parse import quote

from botocore.exceptions import ClientError

#: Stored objects never change (a new upload gets a new key), so caches may keep them forever.
IMMUTABLE_CACHE_CONTROL: Final = "public, max-age=31536000, immutable"
PRESIGNED_URL_SECONDS: Final = 3600
MAX_KEY_LENGTH: Final = 512
_KEY_SEGMENT: Final = r"[A-Za-z0-9_][A-Za-z0-9._-]*"
#: Segments of `_KEY_SEGMENT` joined by single slashes: only characters a URL path keeps as
#: they are (so a valid key needs no quoting in a URL).
_KEY: Final = re.compile(rf"{_KEY_SEGMENT}(?:/{_KEY_SEGMENT})*")


class InvalidStorageKey(ValueError):
    """A key that could escape the storage root or is not one we generate."""


@runtime_checkable
class Storage(Protocol):
    """The storage backends' contract; `open` raises FileNotFoundError for a missing key."""

    def save(self, key: str, data: bytes, content_type: str) -> None: ...

    def open(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def url(self, key: str) -> str: ...

    def exists(self, key: str) -> bool: ...


def validate_key(key: str) -> str:
    """Accept only plain relative keys like `images/ab/cd/<uuid>/original.jpg`.

    Checked in every backend: it blocks `..`, absolute paths, backslashes and odd characters
    before they reach a filesystem or an S3 key that a later local copy would trust.
    """
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidStorageKey(f"invalid storage key: {key!r}")
    if not _KEY.fullmatch(key):
        raise InvalidStorageKey(f"invalid storage key: {key!r}")
    return key


def new_image_prefix(image_id: uuid.UUID | str | None = None) -> str:
    """`images/ab/cd/<uuid>`: two hex levels keep directories (and S3 listings) small.

    Pass the image record's id to make the keys derivable again, e.g. in a retried job.
    """
    value = uuid.UUID(str(image_id)) if image_id is not None else uuid.uuid4()
    hexed = value.hex
    return f"images/{hexed[:2]}/{hexed[2:4]}/{value}"


def image_key(prefix: str, name: str, extension: str) -> str:
    """A file inside an image prefix, e.g. image_key(prefix, "thumb", "webp")."""
    return validate_key(f"{prefix}/{name}.{extension}")


class LocalStorage:
    """Files under `root`, served by the app under `url_prefix`."""

    def __init__(self, root: Path, url_prefix: str) -> None:
        self.root = Path(root).resolve()
        self.url_prefix = url_prefix.rstrip("/")

    def path(self, key: str) -> Path:
        """The file for a key; refuses anything that resolves outside the root (symlinks too)."""
        validate_key(key)
        candidate = (self.root / key).resolve()
        if not candidate.is_relative_to(self.root) or candidate == self.root:
            raise InvalidStorageKey(f"storage key escapes the root: {key!r}")
        return candidate

    def save(self, key: str, data: bytes, content_type: str) -> None:
        """Write atomically (temp file, fsync, rename) so readers never see half a file."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temp_name, 0o644)  # mkstemp makes 0600; a front proxy may serve these
            os.replace(temp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise

    def open(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def delete(self, key: str) -> None:
        """Idempotent: deleting a missing key is fine (jobs are retried)."""
        self.path(key).unlink(missing_ok=True)

    def url(self, key: str) -> str:
        return f"{self.url_prefix}/{validate_key(key)}"  # a valid key is URL-safe as it is

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()


class S3Storage:
    """An S3-compatible bucket (AWS, MinIO, R2...); `client` is injectable for tests."""

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        public_url: str | None = None,
        client: Any | None = None,
        *,
        cache_control: str = IMMUTABLE_CACHE_CONTROL,
        presign_seconds: int = PRESIGNED_URL_SECONDS,
    ) -> None:
        if client is None:
            import boto3  # imported lazily: embedded mode never pays for it

            client = boto3.client("s3", endpoint_url=endpoint_url)
        self.bucket = bucket
        self.public_url = public_url.rstrip("/") if public_url else None
        self.client = client
        self.cache_control = cache_control
        self.presign_seconds = presign_seconds

    def save(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=validate_key(key),
            Body=data,
            ContentType=content_type,
            CacheControl=self.cache_control,
        )

    def open(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=validate_key(key))
        except ClientError as exc:
            if _is_not_found(exc):
                raise FileNotFoundError(key) from exc
            raise
        body = response["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def delete(self, key: str) -> None:
        """Idempotent: S3 answers 204 for a missing key as well."""
        self.client.delete_object(Bucket=self.bucket, Key=validate_key(key))

    def url(self, key: str) -> str:
        """The public (CDN) URL if configured, else a time-limited presigned GET."""
        validate_key(key)
        if self.public_url:
            return f"{self.public_url}/{quote(key)}"
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=self.presign_seconds,
        )
        return url

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=validate_key(key))
        except ClientError as exc:
            if _is_not_found(exc):
                return False
            raise
        return True


def _is_not_found(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error.get("Code") in {"404", "NoSuchKey", "NotFound"} or status == 404
