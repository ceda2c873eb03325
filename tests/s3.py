"""A real S3 API for the storage tests: moto's server mode, as a subprocess on a spare port.

The platform talks to it over HTTP with boto3 exactly as it would to AWS, MinIO or Ceph; the tests read
the bucket back with their own boto3 client, never through the code under test.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import environ
from django.test import Client

from odr.documents.storage import storage_from_env
from tests.processes import free_port

# moto accepts any credentials; these keep boto3 from looking for real ones (files, instance metadata).
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "odr-test",
    "AWS_SECRET_ACCESS_KEY": "odr-test-secret",
    "AWS_EC2_METADATA_DISABLED": "true",
}
REGION = "eu-west-3"


class MotoServer:
    def __init__(self):
        self.port = free_port()
        self.process = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        executable = Path(sys.executable).with_name("moto_server")
        self.process = subprocess.Popen(
            [str(executable), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.process.returncode}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto_server did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


class Bucket:
    """A fresh bucket of the test's own, and the environment that points the platform at it."""

    def __init__(self, server: MotoServer, *, prefix: str = ""):
        self.server = server
        self.name = f"odr-test-{uuid.uuid4().hex[:12]}"
        self.prefix = prefix
        self.client = server.client()
        self.client.create_bucket(Bucket=self.name, CreateBucketConfiguration={"LocationConstraint": REGION})

    @property
    def environment(self) -> dict[str, str]:
        """What a deployment sets (the variables documented in docs/architecture.md)."""
        return {
            **CREDENTIALS,
            "ODR_S3_BUCKET": self.name,
            "ODR_S3_ENDPOINT_URL": self.server.endpoint_url,
            "ODR_S3_REGION": REGION,
            "ODR_S3_PATH_STYLE": "1",
            "ODR_S3_PREFIX": self.prefix,
        }

    def storage_setting(self) -> dict:
        """STORAGES["default"] as settings.py builds it from that environment."""
        saved = {key: os.environ.get(key) for key in self.environment}
        os.environ.update(self.environment)
        try:
            return storage_from_env(environ.Env())
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()


# --- What the storage tests check on the platform's side --------------------------------------------


def portal(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def download(response) -> bytes:
    return b"".join(response.streaming_content)


def local_files(settings) -> list[Path]:
    """Files under MEDIA_ROOT: with a bucket configured, there must be none."""
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
