"""`manage.py create_api_key`: the portal's service from the shell; the key is printed once, alone on
stdout, and works as a Bearer key on the API."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from odr.accounts.models import Role
from odr.api.models import ApiKey, ApiKeyScope
from tests.factories import MembershipFactory, MerchantFactory
from tests.helpers import file_complaint

from .conftest import client_for

LIST = "/api/v1/complaints/"


def create_api_key(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def lumiere(body):
    merchant = MerchantFactory(
        mediation_body=body, legal_name="Librairie Lumière SAS", trading_name="Lumière"
    )
    owner = MembershipFactory(role=Role.MERCHANT_OWNER, merchant=merchant).user
    return merchant, owner


@pytest.mark.django_db
def test_prints_a_key_that_authenticates_on_the_api(lumiere, consumer):
    merchant, owner = lumiere
    complaint = file_complaint(consumer, merchant)

    out, err = create_api_key("--merchant", "lumière", "--name", "ci", "--scopes", "read_write")

    full_key = out.strip()
    assert out == full_key + "\n"  # the key alone on stdout: `key=$(manage.py create_api_key …)`
    key = ApiKey.objects.get()
    assert full_key.startswith(f"odr_{key.prefix}_") and full_key not in err
    assert (key.merchant, key.created_by, key.name, key.scopes) == (
        merchant,
        owner,
        "ci",
        ApiKeyScope.READ_WRITE,
    )
    assert full_key.split("_", 2)[2] not in key.key_hash  # only its hash is kept

    response = client_for(full_key).get(LIST)
    assert response.status_code == 200, response.content
    assert [row["reference"] for row in response.json()["results"]] == [complaint.reference]
    assert client_for(full_key + "x").get(LIST).status_code == 401


@pytest.mark.django_db
def test_read_scope_by_default_cannot_write(lumiere, consumer):
    merchant, _owner = lumiere
    complaint = file_complaint(consumer, merchant)
    full_key = create_api_key("--merchant", "Lumière", "--name", "reports")[0].strip()

    assert ApiKey.objects.get().scopes == ApiKeyScope.READ
    response = client_for(full_key).post(
        f"{LIST}{complaint.reference}/messages/", {"body": "Bonjour"}, format="json"
    )
    assert response.status_code == 403 and response.json()["code"] == "insufficient_scope"


@pytest.mark.django_db
def test_several_owners_need_owner(lumiere):
    merchant, owner = lumiere
    MembershipFactory(role=Role.MERCHANT_OWNER, merchant=merchant)
    with pytest.raises(CommandError, match="--owner"):
        create_api_key("--merchant", "Lumière", "--name", "ci")

    create_api_key("--merchant", "Lumière", "--name", "ci", "--owner", owner.email.upper())
    assert ApiKey.objects.get().created_by == owner


@pytest.mark.django_db
def test_refusals_create_nothing(lumiere, body):
    merchant, _owner = lumiere
    agent = MembershipFactory(role=Role.MERCHANT_AGENT, merchant=merchant).user
    MerchantFactory(mediation_body=body, legal_name="Lumière Bis SARL", trading_name="Lumière Bis")

    with pytest.raises(CommandError, match="2 merchants match"):
        create_api_key("--merchant", "Lumière", "--name", "ci")
    with pytest.raises(CommandError, match="not an active owner"):
        create_api_key("--merchant", "Librairie", "--name", "ci", "--owner", agent.email)
    with pytest.raises(CommandError):
        create_api_key("--merchant", "Librairie", "--name", "   ")  # the service's own check
    with pytest.raises(CommandError):
        create_api_key("--merchant", "Librairie", "--name", "ci", "--scopes", "admin")
    assert not ApiKey.objects.exists()
