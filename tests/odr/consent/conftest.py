import pytest


@pytest.fixture(autouse=True)
def signing_keys(settings, tmp_path):
    """Each test signs with keys of its own, in a directory pytest removes afterwards."""
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"
    return settings.ODR_SIGNING_KEYS_DIR
