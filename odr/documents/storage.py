"""Where uploads and generated documents live: the local disk (the embedded default) or an
S3-compatible bucket (several hosts), chosen by the environment (`storage_from_env`, read by settings).

Files are private either way. Nothing hands out a URL to them: every download goes through a view that
checks who asks (`open_for_download`), and on S3 the view streams the object's body as it arrives, so a
large export never sits whole in a web process's memory.
"""

from contextlib import contextmanager
from typing import IO

import environ

S3_BACKEND = "odr.documents.s3.PrivateS3Storage"  # a string: settings never import boto3


def storage_from_env(env: environ.Env) -> dict:
    """The STORAGES["default"] entry: the bucket named by ODR_S3_BUCKET, else the local disk (MEDIA_ROOT).

    Credentials are not settings: boto3 finds them itself (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
    AWS_SESSION_TOKEN in the environment, a profile, or the host's instance role), so no secret has to
    pass through Django's settings.
    """
    bucket = env.str("ODR_S3_BUCKET", default="")
    if not bucket:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    return {
        "BACKEND": S3_BACKEND,
        "OPTIONS": {
            "bucket_name": bucket,
            "location": env.str("ODR_S3_PREFIX", default="").strip("/"),
            "endpoint_url": env.str("ODR_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("ODR_S3_REGION", default="") or None,
            # MinIO, Ceph and moto answer on one host name: bucket in the path, not in the host.
            "addressing_style": "path" if env.bool("ODR_S3_PATH_STYLE", default=False) else None,
            "default_acl": None,  # no ACL header: objects are as private as the bucket (never public-read)
            "file_overwrite": False,  # names are random; a clash gets a new name rather than a lost file
            # Reading a whole object into memory is for small files only; beyond this it spills to disk.
            "max_memory_size": 2 * 1024 * 1024,
        },
    }


def open_for_download(file) -> IO[bytes]:
    """A stored file (a FieldFile) opened for a streamed response, whatever the storage."""
    opener = getattr(file.storage, "open_stream", None)
    return opener(file.name) if opener is not None else file.open("rb")


@contextmanager
def removed_on_error(file):
    """Remove a file just stored (a FieldFile) if what follows fails: the transaction that would have
    recorded it rolls back, and an object nothing points at would stay in the bucket for ever."""
    try:
        yield
    except BaseException:
        file.storage.delete(file.name)
        raise
