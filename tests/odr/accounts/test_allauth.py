"""django-allauth as part of the site: e-mail login, mandatory verification by code, login by code,
password reset, brute-force throttling, and every page we use inside our layout, in French by
default, with no inline script or style (the Content-Security-Policy forbids them)."""

import io
import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation

from odr.accounts.models import User
from tests.factories import UserFactory, VerifiedUserFactory

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "une autre phrase de passe solide"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
CODE_LINE = re.compile(r"^[A-Z0-9]{4,}(?:-[A-Z0-9]{2,})*$")
LINK = re.compile(r"https?://\S+")


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """allauth keeps its rate limits (failed logins, codes sent) in the cache: start each test clean."""
    cache.clear()
    yield
    cache.clear()
    # A request in English leaves English active in this thread: give the next test the default.
    translation.deactivate()


def code_in(message) -> str:
    codes = [line.strip() for line in message.body.splitlines() if CODE_LINE.match(line.strip())]
    assert len(codes) == 1, message.body
    return codes[0]


def logged_in_user_id(client):
    return client.session.get("_auth_user_id")


def assert_csp_clean(html: str) -> None:
    assert INLINE_SCRIPT.search(html) is None, INLINE_SCRIPT.search(html).group(0)
    assert ' style="' not in html
    assert "<main" in html and 'class="site-header"' in html  # inside our layout


# --- Sign-up and verification ---------------------------------------------------------------------


def test_signup_sends_a_code_and_entering_it_verifies_and_logs_in(client, db):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "Nouvelle@Example.test",
            "first_name": "Camille",
            "last_name": "Martin",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert logged_in_user_id(client) is None
    user = User.objects.get(email__iexact="nouvelle@example.test")
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]

    page = client.get(reverse("account_email_verification_sent"))
    assert "Saisissez le code de vérification reçu par mail" in page.content.decode()

    response = client.post(reverse("account_email_verification_sent"), {"code": code_in(mail.outbox[0])})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal")
    assert EmailAddress.objects.get(user=user).verified
    assert logged_in_user_id(client) == str(user.pk)


def test_signup_keeps_the_page_language_for_the_person(client, db):
    client.post(
        reverse("account_signup"),
        {
            "email": "anglophone@example.test",
            "first_name": "Camille",
            "last_name": "Martin",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
        headers={"accept-language": "en"},
    )
    assert User.objects.get(email="anglophone@example.test").preferred_language == "en"


def test_a_wrong_verification_code_does_not_log_in(client, db):
    client.post(
        reverse("account_signup"),
        {
            "email": "nouvelle@example.test",
            "first_name": "Camille",
            "last_name": "Martin",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    response = client.post(reverse("account_email_verification_sent"), {"code": "ZZZZZZ"})
    assert response.status_code == 200
    assert logged_in_user_id(client) is None
    assert not EmailAddress.objects.get(email="nouvelle@example.test").verified


def test_logging_in_with_an_unverified_address_gives_no_access(client, db):
    user = UserFactory(email="pas-verifie@example.test")
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert logged_in_user_id(client) is None
    # A code was sent instead, and the pages behind the login stay closed.
    assert len(mail.outbox) == 1
    response = client.get(reverse("account_email"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_logging_in_with_a_verified_address_and_the_password(client, db):
    user = VerifiedUserFactory()
    response = client.post(reverse("account_login"), {"login": user.email.upper(), "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("portal")
    assert logged_in_user_id(client) == str(user.pk)


# --- Login by code --------------------------------------------------------------------------------


def test_login_by_code(client, db):
    user = VerifiedUserFactory()
    response = client.post(reverse("account_request_login_code"), {"email": user.email})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_confirm_login_code")
    assert logged_in_user_id(client) is None
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]

    page = client.get(reverse("account_confirm_login_code")).content.decode()
    assert "Entrez le code de connexion" in page
    assert_csp_clean(page)

    response = client.post(reverse("account_confirm_login_code"), {"code": code_in(mail.outbox[0])})
    assert response.status_code == 302 and response["Location"] == reverse("portal")
    assert logged_in_user_id(client) == str(user.pk)


def test_login_by_code_refuses_a_wrong_code(client, db):
    user = VerifiedUserFactory()
    client.post(reverse("account_request_login_code"), {"email": user.email})
    response = client.post(reverse("account_confirm_login_code"), {"code": "ZZZZZZ"})
    assert logged_in_user_id(client) is None
    assert response.status_code in (200, 302)


# --- Password reset -------------------------------------------------------------------------------


def test_password_reset_sends_an_email_whose_link_sets_a_new_password(client, db):
    user = VerifiedUserFactory()
    response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302 and response["Location"] == reverse("account_reset_password_done")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    link = next(url for url in LINK.findall(mail.outbox[0].body) if "/password/reset/key/" in url)
    path = link.split("testserver", 1)[-1]

    response = client.get(path, follow=True)
    page = response.content.decode()
    assert "Modifier le mot de passe" in page
    assert_csp_clean(page)
    response = client.post(
        response.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_password_reset_for_an_unknown_address_reveals_nothing(client, db):
    response = client.post(reverse("account_reset_password"), {"email": "inconnu@example.test"})
    assert response.status_code == 302 and response["Location"] == reverse("account_reset_password_done")


# --- Brute force ----------------------------------------------------------------------------------


def test_after_five_failed_logins_the_right_password_is_refused_too(client, db):
    user = VerifiedUserFactory()
    for _attempt in range(5):
        response = client.post(reverse("account_login"), {"login": user.email, "password": "mauvais"})
        assert response.status_code == 200
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert logged_in_user_id(client) is None
    assert "Trop de tentatives de connexion échouées" in response.content.decode()


def test_failures_for_one_address_do_not_lock_out_another(client, db):
    victim, other = VerifiedUserFactory(), VerifiedUserFactory()
    for _attempt in range(5):
        client.post(reverse("account_login"), {"login": victim.email, "password": "mauvais"})
    response = client.post(reverse("account_login"), {"login": other.email, "password": PASSWORD})
    assert response.status_code == 302
    assert logged_in_user_id(client) == str(other.pk)


def test_a_failed_login_says_so_next_to_the_form(client, db):
    user = VerifiedUserFactory()
    response = client.post(reverse("account_login"), {"login": user.email, "password": "mauvais"})
    page = response.content.decode()
    assert 'role="alert"' in page and "errorlist" in page
    assert_csp_clean(page)


# --- Every page we use: our layout, French by default, no inline script or style --------------------


PUBLIC_PAGES = [
    ("account_login", ["Connexion", "Envoyez-moi un code de connexion", "Mot de passe oublié"]),
    ("account_signup", ["Création de compte"]),
    ("account_request_login_code", ["Envoyez-moi un code de connexion", "Demander un code"]),
    ("account_reset_password", ["Réinitialisation du mot de passe"]),
    ("account_reset_password_done", ["Réinitialisation du mot de passe"]),
]


@pytest.mark.parametrize("name, french", PUBLIC_PAGES)
def test_public_allauth_pages_are_ours_french_and_csp_clean(client, db, name, french):
    response = client.get(reverse(name))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="fr">' in page
    for text in french:
        assert text in page
    assert_csp_clean(page)
    assert page.count("<h1") == 1


def test_the_login_page_links_to_login_by_code_and_labels_its_fields(client, db):
    page = client.get(reverse("account_login")).content.decode()
    assert f'href="{reverse("account_request_login_code")}"' in page
    assert '<label for="id_login">' in page and '<label for="id_password">' in page
    assert f'href="{reverse("account_reset_password")}"' in page


def test_pages_are_english_on_request(client, db):
    page = client.get(reverse("account_login"), headers={"accept-language": "en"}).content.decode()
    assert '<html lang="en">' in page and "Send me a sign-in code" in page


def test_the_email_verification_page_is_csp_clean(client, db):
    client.post(
        reverse("account_signup"),
        {
            "email": "nouvelle@example.test",
            "first_name": "Camille",
            "last_name": "Martin",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    page = client.get(reverse("account_email_verification_sent")).content.decode()
    assert_csp_clean(page)


@pytest.mark.parametrize(
    "name, french",
    [
        ("account_email", ["Adresses e-mail", "Vérifiée", "Principale"]),
        ("account_logout", ["Se déconnecter"]),
        ("account_change_password", ["Modifier le mot de passe"]),
    ],
)
def test_account_pages_are_ours_french_and_csp_clean(client, db, name, french):
    user = VerifiedUserFactory()
    client.force_login(user)
    response = client.get(reverse(name))
    assert response.status_code == 200
    page = response.content.decode()
    for text in french:
        assert text in page
    assert_csp_clean(page)
    assert "account.js" not in page


def test_my_account_lists_the_addresses_with_labelled_choices(client, db):
    user = VerifiedUserFactory(email="moi@example.test")
    client.force_login(user)
    page = client.get(reverse("account_email")).content.decode()
    assert "moi@example.test" in page
    assert "<fieldset>" in page and "<legend>" in page
    assert 'name="action_remove"' in page and 'name="action_add"' in page


def test_logout_confirm_logs_out(client, db):
    client.force_login(VerifiedUserFactory())
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert logged_in_user_id(client) is None


def test_every_demo_person_logs_in_with_the_demo_password(client, db):
    from django.core.management import call_command

    from mediation.demo import DEMO_PASSWORD, LOGINS

    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # idempotent: no second address row
    for email, _role in LOGINS:
        assert EmailAddress.objects.filter(email=email, verified=True, primary=True).count() == 1
        response = client.post(reverse("account_login"), {"login": email, "password": DEMO_PASSWORD})
        assert response.status_code == 302 and response["Location"] == reverse("portal"), email
        assert logged_in_user_id(client) == str(User.objects.get(email=email).pk)
        client.logout()
