"""Storage backends: LocalStorage on a real temp folder, S3Storage against a botocore Stubber."""

from __future__ import annotations

import io
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from app.core.storage import (
    IMMUTABLE_CACHE_CONTROL,
    InvalidStorageKey,
    LocalStorage,
    S3Storage,
    Storage,
    image_key,
    new_image_prefix,
    validate_key,
)

KEY = "images/6f/1c/6f1c2a52-3b0e-4c1b-9a53-0f6a3b7d9e10/original.jpg"
BAD_KEYS = [
    "../../etc/passwd",
    "images/../../etc/passwd",
    "images/./x.jpg",
    "/etc/passwd",
    "images//x.jpg",
    "images\\..\\x.jpg",
    "images/x.jpg/",
    ".hidden",
    "",
    "images/\x00.jpg",
    "images/%2e%2e/x.jpg",
    "a" * 600,
]


# --- keys ---------------------------------------------------------------------------------


def test_new_image_prefix_shape() -> None:
    prefix = new_image_prefix()
    match = re.fullmatch(r"images/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f-]{36})", prefix)
    assert match is not None
    assert uuid.UUID(match[3]).hex[:4] == match[1] + match[2]
    assert new_image_prefix() != prefix
    fixed = uuid.UUID("6f1c2a52-3b0e-4c1b-9a53-0f6a3b7d9e10")
    assert new_image_prefix(fixed) == "images/6f/1c/6f1c2a52-3b0e-4c1b-9a53-0f6a3b7d9e10"
    assert new_image_prefix(str(fixed)) == new_image_prefix(fixed)
    assert image_key(new_image_prefix(fixed), "original", "jpg") == KEY


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidStorageKey):
        validate_key(key)


# --- LocalStorage -------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "media", "/media/files/")


def test_local_round_trip(local: LocalStorage) -> None:
    assert isinstance(local, Storage)
    assert not local.exists(KEY)
    local.save(KEY, b"jpeg bytes", "image/jpeg")

    assert local.exists(KEY)
    assert local.open(KEY) == b"jpeg bytes"
    assert local.path(KEY).is_file()
    assert oct(local.path(KEY).stat().st_mode & 0o777) == oct(0o644)
    assert local.url(KEY) == f"/media/files/{KEY}"

    local.save(KEY, b"replaced", "image/jpeg")
    assert local.open(KEY) == b"replaced"
    assert not [name for name in os.listdir(local.path(KEY).parent) if name.startswith(".tmp")]

    local.delete(KEY)
    assert not local.exists(KEY)
    local.delete(KEY)  # idempotent
    with pytest.raises(FileNotFoundError):
        local.open(KEY)


def test_local_failed_write_leaves_nothing(
    local: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    local.save(KEY, b"old", "image/jpeg")

    def broken_replace(source: str, target: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        local.save(KEY, b"new", "image/jpeg")
    monkeypatch.undo()
    assert local.open(KEY) == b"old"
    assert os.listdir(local.path(KEY).parent) == ["original.jpg"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_local_refuses_path_traversal(local: LocalStorage, tmp_path: Path, key: str) -> None:
    with pytest.raises(InvalidStorageKey):
        local.save(key, b"pwned", "text/plain")
    for call in (local.open, local.exists, local.delete, local.url):
        with pytest.raises(InvalidStorageKey):
            call(key)
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert written == []


def test_local_refuses_symlink_out_of_root(local: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    local.root.mkdir(parents=True)
    (local.root / "images").symlink_to(outside, target_is_directory=True)

    with pytest.raises(InvalidStorageKey):
        local.open("images/secret.txt")
    with pytest.raises(InvalidStorageKey):
        local.save("images/new.txt", b"x", "text/plain")
    assert sorted(path.name for path in outside.iterdir()) == ["secret.txt"]


# --- S3Storage (stubbed: no S3 server runs here) -------------------------------------------


@pytest.fixture
def s3_client() -> Iterator[object]:
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    yield client


def body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def test_s3_save_open_exists_delete_s3_stubbed(s3_client: object) -> None:
    storage = S3Storage("sprout-media", public_url="https://cdn.example.com/", client=s3_client)
    assert isinstance(storage, Storage)
    with Stubber(s3_client) as stub:  # type: ignore[arg-type]
        stub.add_response(
            "put_object",
            {},
            {
                "Bucket": "sprout-media",
                "Key": KEY,
                "Body": b"jpeg bytes",
                "ContentType": "image/jpeg",
                "CacheControl": IMMUTABLE_CACHE_CONTROL,
            },
        )
        stub.add_response(
            "get_object",
            {"Body": body(b"jpeg bytes"), "ContentType": "image/jpeg"},
            {"Bucket": "sprout-media", "Key": KEY},
        )
        stub.add_response(
            "head_object", {"ContentLength": 10}, {"Bucket": "sprout-media", "Key": KEY}
        )
        stub.add_response("delete_object", {}, {"Bucket": "sprout-media", "Key": KEY})
        stub.add_client_error(
            "head_object",
            service_error_code="404",
            http_status_code=404,
            expected_params={"Bucket": "sprout-media", "Key": KEY},
        )
        stub.add_client_error(
            "get_object",
            service_error_code="NoSuchKey",
            http_status_code=404,
            expected_params={"Bucket": "sprout-media", "Key": KEY},
        )
        stub.add_client_error(
            "head_object",
            service_error_code="403",
            http_status_code=403,
            expected_params={"Bucket": "sprout-media", "Key": KEY},
        )

        storage.save(KEY, b"jpeg bytes", "image/jpeg")
        assert storage.open(KEY) == b"jpeg bytes"
        assert storage.exists(KEY) is True
        storage.delete(KEY)
        assert storage.exists(KEY) is False
        with pytest.raises(FileNotFoundError):
            storage.open(KEY)
        with pytest.raises(Exception, match="403"):  # not "missing": a real error surfaces
            storage.exists(KEY)
        stub.assert_no_pending_responses()

    assert storage.url(KEY) == f"https://cdn.example.com/{KEY}"


def test_s3_presigned_url_without_public_url_s3_stubbed(s3_client: object) -> None:
    storage = S3Storage("sprout-media", client=s3_client)
    url = storage.url(KEY)  # presigning is local: no request is made
    assert url.startswith("https://sprout-media.s3.amazonaws.com/" + KEY)
    assert "Signature" in url and "Expires" in url


def test_s3_refuses_bad_keys_s3_stubbed(s3_client: object) -> None:
    storage = S3Storage("sprout-media", client=s3_client)
    with Stubber(s3_client):  # type: ignore[arg-type]
        for key in ("../../etc/passwd", "/abs", "images//x"):
            with pytest.raises(InvalidStorageKey):
                storage.save(key, b"x", "text/plain")
            with pytest.raises(InvalidStorageKey):
                storage.url(key)
