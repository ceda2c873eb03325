"""Factories for the organisations and people. Cases are built through the services (tests/helpers.py)
so that every test case has the audit trail, deadlines and outbox rows a real one has."""

import factory

from odr.accounts.models import MediationBody, Membership, Merchant, Role, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    first_name = factory.Faker("first_name", locale="fr_FR")
    last_name = factory.Faker("last_name", locale="fr_FR")
    password = factory.django.Password("correct horse battery staple")


class MediationBodyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MediationBody

    name = factory.Sequence(lambda n: f"Médiateur de la consommation n°{n}")
    slug = factory.Sequence(lambda n: f"body-{n}")
    website = factory.Sequence(lambda n: f"https://mediateur{n}.example.test")
    time_zone = "Europe/Paris"
    listing_number = factory.Sequence(lambda n: f"CECMC-{n:04d}")


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    legal_name = factory.Sequence(lambda n: f"Boutique {n} SAS")
    registration_number = factory.Sequence(lambda n: f"{100000000 + n:09d}")
    website = factory.Sequence(lambda n: f"https://boutique{n}.example.test")
    mediation_body = factory.SubFactory(MediationBodyFactory)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = Role.MERCHANT_AGENT


class VerifiedUserFactory(UserFactory):
    """A user who can log in with allauth's mandatory verification: a verified, primary address."""

    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def verified_email(obj, create, extracted, **kwargs):
        if create:
            from allauth.account.models import EmailAddress

            EmailAddress.objects.update_or_create(
                user=obj, email=obj.email, defaults={"verified": True, "primary": True}
            )
