"""S3 on 127.0.0.1: moto's server with fake credentials and the endpoint set, so that botocore
looks nowhere else (the tests of saved patches and parked sessions)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .procs import free_port


@contextlib.contextmanager
def moto_s3() -> Iterator[dict[str, str]]:
    """A real S3 API on 127.0.0.1 (moto's server) with a bucket `fixes`; the task's environment."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FSSPEC_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    try:
        fs = s3_fs(env)
        with contextlib.suppress(FileExistsError):  # moto keeps its buckets per process
            fs.mkdir("fixes")
        yield env
    finally:
        server.stop()


def s3_fs(env: dict[str, str]) -> Any:
    """An s3fs file system on the moto server (no cache, so listings are fresh)."""
    import s3fs

    return s3fs.S3FileSystem(
        key=env["AWS_ACCESS_KEY_ID"],
        secret=env["AWS_SECRET_ACCESS_KEY"],
        endpoint_url=env["FSSPEC_S3_ENDPOINT_URL"],
        skip_instance_cache=True,
        use_listings_cache=False,
    )
