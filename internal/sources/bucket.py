"""S3-compatible buckets (providers generic and aws) through aiobotocore: list objects with
their etags, apply ignore rules, download into a directory."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from internal.sources import ignore


class BucketError(Exception):
    """A bucket operation failed; the message names the bucket and the cause."""


@dataclass(frozen=True)
class BucketOptions:
    bucket: str
    endpoint: str
    region: str | None = None
    prefix: str | None = None
    insecure: bool = False
    access_key: str | None = None
    secret_key: str | None = None
    timeout: float = 60.0
    ca_file: str | None = None
    """A CA bundle (PEM) the endpoint's certificate is verified with, instead of the system's."""
    cert_file: str | None = None
    key_file: str | None = None
    """A client certificate and its key (PEM files) offered to the endpoint."""
    proxy_url: str | None = field(default=None, repr=False)
    """The proxy every request goes through (credentials in the URL), loopback included."""
    anonymous: bool = False
    """Send unsigned requests (no access key): the generic provider without a Secret, as Flux's
    minio client does. Otherwise, without a key, the AWS credential chain applies (provider
    aws: environment, web identity, instance metadata)."""


def endpoint_url(endpoint: str, insecure: bool) -> str:
    """Flux's endpoint is a host[:port]; the scheme comes from `insecure`."""
    if "://" in endpoint:
        return endpoint
    return f"{'http' if insecure else 'https'}://{endpoint}"


async def fetch(options: BucketOptions, dest: Path, spec_ignore: str | None) -> dict[str, str]:
    """Download the bucket's objects (under `prefix`, minus ignored keys) into `dest`; returns
    key → etag of what was downloaded."""
    # Imported on the first fetch: the SDK costs a controller's start 0.1 s of CPU, and most
    # controllers have no Bucket.
    from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
    from aiobotocore.session import get_session  # type: ignore[import-untyped]
    from botocore import UNSIGNED  # type: ignore[import-untyped]
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    session = get_session()
    extra: dict[str, Any] = {"signature_version": UNSIGNED} if options.anonymous else {}
    if options.cert_file and options.key_file:
        extra["client_cert"] = (options.cert_file, options.key_file)
    if options.proxy_url:
        extra["proxies"] = {"http": options.proxy_url, "https": options.proxy_url}
    config = AioConfig(
        s3={"addressing_style": "path"},
        connect_timeout=options.timeout,
        read_timeout=options.timeout,
        retries={"max_attempts": 2},
        **extra,
    )
    kwargs: dict[str, Any] = {
        "endpoint_url": endpoint_url(options.endpoint, options.insecure),
        "region_name": options.region or "us-east-1",
        "config": config,
    }
    if options.access_key:
        kwargs["aws_access_key_id"] = options.access_key
        kwargs["aws_secret_access_key"] = options.secret_key or ""
    if options.ca_file:
        kwargs["verify"] = options.ca_file
    try:
        async with session.create_client("s3", **kwargs) as s3:
            try:
                await s3.head_bucket(Bucket=options.bucket)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in ("404", "NoSuchBucket"):
                    raise BucketError(f"bucket '{options.bucket}' not found") from None
                raise
            root_ignore = None
            try:
                obj = await s3.get_object(Bucket=options.bucket, Key=ignore.IGNORE_FILE)
                async with obj["Body"] as body:
                    root_ignore = (await body.read()).decode(errors="replace")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                    raise
            patterns = ignore.read_patterns(root_ignore or "")
            if spec_ignore is not None:
                patterns += ignore.read_patterns(spec_ignore)
            rules = ignore.rules(patterns)
            etags: dict[str, str] = {}
            paginator = s3.get_paginator("list_objects_v2")
            async for page in paginator.paginate(
                Bucket=options.bucket, Prefix=options.prefix or ""
            ):
                for item in page.get("Contents", []):
                    key = item["Key"]
                    if key.endswith("/") or key == ignore.IGNORE_FILE:
                        continue
                    if rules.excluded(key, False):
                        continue
                    etags[key] = item.get("ETag", "").strip('"')
            for key in etags:
                target = dest / key
                if not _contained(dest, key):
                    raise BucketError(f"object key '{key}' leaves the artifact directory")
                obj = await s3.get_object(Bucket=options.bucket, Key=key)
                async with obj["Body"] as body:
                    data = await body.read()
                await asyncio.to_thread(_write, target, data)
                etags[key] = obj.get("ETag", etags[key]).strip('"')
            return etags
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise BucketError(
            f"bucket '{options.bucket}': {error.get('Code', '')}: {error.get('Message', exc)}"
        ) from None
    except BotoCoreError as exc:
        raise BucketError(f"bucket '{options.bucket}': {exc}") from None
    except aiohttp.ClientError as exc:
        raise BucketError(f"bucket '{options.bucket}': {exc}") from None


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _contained(dest: Path, key: str) -> bool:
    """Whether an object key stays inside `dest` (no absolute path, no `..` component)."""
    import posixpath

    norm = posixpath.normpath(key)
    return not (key.startswith("/") or norm == ".." or norm.startswith("../"))
