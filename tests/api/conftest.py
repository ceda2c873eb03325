import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from odr.accounts.models import Role
from odr.api.keys import api_key_create
from odr.api.models import ApiKeyScope
from tests.factories import MembershipFactory, MerchantFactory


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"
    cache.clear()
    yield
    cache.clear()


def client_for(full_key: str | None = None) -> APIClient:
    client = APIClient()
    if full_key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {full_key}")
    return client


@pytest.fixture
def make_key():
    def make(merchant, owner, scopes=ApiKeyScope.READ_WRITE, name="Back office"):
        return api_key_create(merchant=merchant, by=owner, name=name, scopes=scopes)

    return make


@pytest.fixture
def write_key(merchant, owner, make_key):
    return make_key(merchant, owner)


@pytest.fixture
def api(write_key):
    """A client with a read-and-write key of `merchant`."""
    return client_for(write_key[1])


@pytest.fixture
def read_api(merchant, owner, make_key):
    return client_for(make_key(merchant, owner, scopes=ApiKeyScope.READ, name="Reports")[1])


@pytest.fixture
def other_owner(other_merchant):
    return MembershipFactory(role=Role.MERCHANT_OWNER, merchant=other_merchant).user


@pytest.fixture
def other_api(other_merchant, other_owner, make_key):
    """Merchant B's read-and-write key."""
    return client_for(make_key(other_merchant, other_owner)[1])


@pytest.fixture
def third_merchant(body):
    return MerchantFactory(mediation_body=body)
