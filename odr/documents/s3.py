"""The S3 storage of uploads and generated documents (selected by ODR_S3_BUCKET, odr/documents/storage.py)."""

from typing import IO

from storages.backends.s3 import S3Storage
from storages.utils import clean_name


class PrivateS3Storage(S3Storage):
    """django-storages' S3 storage, without URLs and with a streamed read."""

    def url(self, name, parameters=None, expire=None, http_method=None):
        # A presigned URL would be a way round the views' permission checks (and would outlive them).
        raise NotImplementedError("Stored files are served only through permission-checked views.")

    def open_stream(self, name: str) -> IO[bytes]:
        """The object's body, read from the network chunk by chunk (botocore's StreamingBody), where
        `open()` would first download the whole object."""
        key = self._normalize_name(clean_name(name))
        return self.connection.meta.client.get_object(Bucket=self.bucket_name, Key=key)["Body"]
