"""Organisations and roles: D5 (designated mediator), memberships, e-mail login."""

import pytest
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from odr.accounts.models import MediationBody, Membership, Merchant, Role, User
from odr.accounts.selectors import is_consumer, is_mediator_of, is_merchant_staff
from tests.factories import MediationBodyFactory, MerchantFactory, UserFactory


def test_d5_merchant_cannot_exist_without_a_designated_mediator(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        Merchant.objects.create(
            legal_name="Sans Médiateur SARL", registration_number="123456789", website="https://x.test"
        )


def test_d5_mediation_body_with_merchants_cannot_be_deleted(merchant):
    with pytest.raises(ProtectedError):
        merchant.mediation_body.delete()
    assert MediationBody.objects.filter(pk=merchant.mediation_body_id).exists()


def test_merchant_needs_a_registration_or_vat_number(body):
    with pytest.raises(IntegrityError), transaction.atomic():
        Merchant.objects.create(legal_name="Anonyme", website="https://x.test", mediation_body=body)
    Merchant.objects.create(
        legal_name="EU Shop", vat_number="DE123456789", website="https://x.test", mediation_body=body
    )


def test_membership_role_must_match_its_organisation(merchant, body):
    user = UserFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, role=Role.MEDIATOR, merchant=merchant)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, role=Role.MERCHANT_AGENT, mediation_body=body)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, role=Role.MEDIATOR, mediation_body=body, merchant=merchant)


def test_roles_are_scoped_to_their_organisation(agent, merchant, other_merchant, mediator, body, other_body):
    assert is_merchant_staff(agent, merchant)
    assert not is_merchant_staff(agent, other_merchant)
    assert is_mediator_of(mediator, body)
    assert not is_mediator_of(mediator, other_body)


def test_a_consumer_is_a_user_without_membership(consumer, agent):
    assert is_consumer(consumer)
    assert not is_consumer(agent)


def test_users_log_in_with_their_email(db):
    User.objects.create_user(email="Zoe@Example.TEST", password="s3cret-pass-phrase")
    user = authenticate(email="zoe@example.test", password="s3cret-pass-phrase")
    assert user is not None and user.email == "zoe@example.test"
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(email="zoe@example.test", password="x")


def test_admin_pages_exist_for_every_organisation_model(admin_client, merchant, body):
    for url in (
        "/admin/accounts/user/",
        "/admin/accounts/mediationbody/",
        "/admin/accounts/merchant/",
        "/admin/accounts/membership/",
        f"/admin/accounts/merchant/{merchant.pk}/change/",
        "/admin/complaints/complaint/",
        "/admin/mediation/mediationcase/",
        "/admin/audit/auditevent/",
        "/admin/deadlines/deadline/",
    ):
        assert admin_client.get(url).status_code == 200, url


def test_body_factory_is_valid(db):
    assert MediationBodyFactory().time_zone == "Europe/Paris"
    assert MerchantFactory().mediation_body_id
