"""The merchant's team: the owner invites agents by e-mail and removes them (issue 5), and the settings
page gives the text and HTML to publish about the designated mediator (D5, L616-1, R616-1)."""

import html
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from odr.accounts.models import Membership, Role, StaffInvitation
from odr.accounts.services import (
    merchant_stream,
    staff_invitation_accept,
    staff_invitation_revoke,
    staff_invite,
    staff_remove,
)
from odr.audit.models import AuditEvent
from odr.audit.services import audit_verify
from odr.errors import Forbidden, InvalidInput
from odr.notifications import emails
from tests.factories import (
    MediationBodyFactory,
    MembershipFactory,
    MerchantFactory,
    UserFactory,
    VerifiedUserFactory,
)
from tests.helpers import file_complaint, outbox, travel

PASSWORD = "correct horse battery staple"
CODE_LINE = re.compile(r"^[A-Z0-9]{4,}(?:-[A-Z0-9]{2,})*$")


@pytest.fixture(autouse=True)
def _site(settings):
    settings.ODR_PUBLIC_URL = "https://odr.example.test/"
    cache.clear()  # allauth's rate limits live in the cache
    yield
    cache.clear()
    # A request in English leaves English active in this thread: give the next test the default.
    translation.deactivate()


@pytest.fixture
def english(client):
    """The client asks for English pages, so that assertions can use the source strings."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def audit_kinds(merchant) -> list[str]:
    return list(AuditEvent.objects.filter(stream=merchant_stream(merchant)).values_list("kind", flat=True))


def flash(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


def team_url(merchant) -> str:
    return reverse("team:members", kwargs={"merchant_id": merchant.pk})


def invite_url(merchant) -> str:
    return reverse("team:invite", kwargs={"merchant_id": merchant.pk})


def remove_url(membership) -> str:
    return reverse(
        "team:remove", kwargs={"merchant_id": membership.merchant_id, "membership_id": membership.pk}
    )


def revoke_url(invitation) -> str:
    return reverse(
        "team:revoke", kwargs={"merchant_id": invitation.merchant_id, "invitation_id": invitation.pk}
    )


def accept_url(invitation) -> str:
    return reverse("team:invitation_accept", kwargs={"token": invitation.token})


def settings_url(merchant) -> str:
    return reverse("team:settings", kwargs={"merchant_id": merchant.pk})


def agent_membership(user, merchant) -> Membership:
    return Membership.objects.get(user=user, merchant=merchant, role=Role.MERCHANT_AGENT)


# --- Inviting -------------------------------------------------------------------------------------


def test_owner_invites_an_agent_by_email_through_the_outbox(english, merchant, owner):
    english.force_login(owner)
    response = english.post(invite_url(merchant), {"email": " Hugo.Martin@Example.test "}, follow=True)
    assert "Invitation sent to hugo.martin@example.test" in flash(response)

    invitation = StaffInvitation.objects.get(merchant=merchant)
    assert invitation.email == "hugo.martin@example.test"
    assert invitation.invited_by == owner and invitation.accepted_at is None
    assert len(invitation.token) >= 40
    message = outbox("staff_invitation").get()
    assert message.to_address == "hugo.martin@example.test" and message.to_user is None
    assert message.context["accept_url"] == f"https://odr.example.test/invitations/{invitation.token}/"
    assert message.context["merchant_name"] == "Librairie Lumière SAS"
    assert audit_kinds(merchant) == ["staff.invited"]
    event = AuditEvent.objects.get(stream=merchant_stream(merchant))
    assert event.actor == owner and event.payload["invitation_id"] == invitation.pk
    assert "hugo.martin" not in str(event.payload)  # ids in the trail, not addresses
    # The pending invitation is listed, with a button to revoke it.
    assert "hugo.martin@example.test" in response.content.decode()
    assert revoke_url(invitation) in response.content.decode()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_invitation_email_renders_in_both_languages(merchant, owner, language):
    owner.preferred_language = language
    invitation = staff_invite(merchant=merchant, by=owner, email="hugo@example.test")
    message = outbox("staff_invitation").get()
    assert message.language == language
    email = emails.build_email(message)
    body_html = email.alternatives[0][0]
    link = f"https://odr.example.test/invitations/{invitation.token}/"
    assert "Librairie Lumière SAS" in email.subject and "\n" not in email.subject
    for body in (email.body, html.unescape(body_html)):
        assert "Librairie Lumière SAS" in body and link in body
        assert "https://odr.example.test/accounts/signup/?next=%2Finvitations%2F" in body
        assert "None" not in body and "{{" not in body and "{%" not in body
        assert owner.display_name in body
    assert f'href="{link}"' in body_html
    assert "<p" not in email.body and "&#x27;" not in email.body + email.subject
    for attribute in re.findall(r'(?:href|src)="([^"]*)"', body_html):
        assert attribute.startswith("https://odr.example.test/"), attribute


def test_invalid_email_is_refused_with_a_message_and_changes_nothing(english, merchant, owner):
    english.force_login(owner)
    response = english.post(invite_url(merchant), {"email": "pas une adresse"}, follow=True)
    assert "Enter a valid e-mail address" in flash(response)
    assert not StaffInvitation.objects.exists() and not outbox("staff_invitation").exists()
    assert audit_kinds(merchant) == []


def test_a_member_cannot_be_invited_again(english, merchant, owner, agent):
    english.force_login(owner)
    response = english.post(invite_url(merchant), {"email": agent.email.upper()}, follow=True)
    assert "already a member of the team" in flash(response)
    assert not StaffInvitation.objects.exists()


def test_an_address_with_a_pending_invitation_cannot_be_invited_again(merchant, owner):
    staff_invite(merchant=merchant, by=owner, email="hugo@example.test")
    with translation.override("en"), pytest.raises(InvalidInput, match="already waiting for an answer"):
        staff_invite(merchant=merchant, by=owner, email="HUGO@example.test")
    assert StaffInvitation.objects.count() == 1 and outbox("staff_invitation").count() == 1


def test_an_expired_or_revoked_invitation_does_not_block_a_new_one(merchant, owner):
    first = staff_invite(merchant=merchant, by=owner, email="hugo@example.test")
    staff_invitation_revoke(invitation=first, by=owner)
    second = staff_invite(merchant=merchant, by=owner, email="hugo@example.test")
    with travel(timezone.now() + timedelta(days=15)):
        third = staff_invite(merchant=merchant, by=owner, email="hugo@example.test")
    assert len({first.token, second.token, third.token}) == 3


# --- Accepting ------------------------------------------------------------------------------------


def code_in(message) -> str:
    return next(line.strip() for line in message.body.splitlines() if CODE_LINE.match(line.strip()))


def test_invitation_end_to_end_new_agent_signs_up_then_accepts(english, merchant, owner):
    english.force_login(owner)
    english.post(invite_url(merchant), {"email": "hugo@example.test"})
    english.logout()
    link = outbox("staff_invitation").get().context["accept_url"]
    path = link.removeprefix("https://odr.example.test")

    # Not logged in: the link leads to the login page, which offers sign-up and keeps the way back.
    response = english.get(path)
    assert response.status_code == 302
    login = response["Location"]
    assert login.startswith(reverse("account_login")) and "next=" in login
    page = english.get(login).content.decode()
    signup = re.search(r'href="(/accounts/signup/\?next=[^"]+)"', page).group(1)

    # Sign up with the invited address, enter the code from the e-mail: back on the invitation.
    signup = html.unescape(signup)
    response = english.post(
        signup,
        {
            "email": "hugo@example.test",
            "first_name": "Camille",
            "last_name": "Martin",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    response = english.post(response["Location"], {"code": code_in(mail.outbox[-1])})
    assert response.status_code == 302 and response["Location"] == path

    page = english.get(path).content.decode()
    assert "Librairie Lumière SAS" in page and "Accept and join" in page
    response = english.post(path)
    assert response.status_code == 302 and response["Location"] == reverse("merchant:dashboard")

    hugo = Membership.objects.get(merchant=merchant, user__email="hugo@example.test")
    assert hugo.role == Role.MERCHANT_AGENT
    invitation = StaffInvitation.objects.get()
    assert invitation.accepted_by == hugo.user and invitation.accepted_at is not None
    assert audit_kinds(merchant) == ["staff.invited", "staff.joined"]
    assert audit_verify(stream=merchant_stream(merchant)).ok
    # The new agent sees the team, without the owner's controls.
    page = english.get(team_url(merchant)).content.decode()
    assert "hugo@example.test" in page and invite_url(merchant) not in page
    # The link works once.
    response = english.post(path, follow=True)
    assert "already" in flash(response)
    assert Membership.objects.filter(merchant=merchant, user=hugo.user).count() == 1


def test_the_invited_address_matches_whatever_its_letter_case(merchant, owner):
    user = UserFactory(email="hugo@example.test")
    invitation = staff_invite(merchant=merchant, by=owner, email="Hugo@Example.test")
    membership = staff_invitation_accept(token=invitation.token, user=user)
    assert membership.role == Role.MERCHANT_AGENT and membership.merchant == merchant


def test_the_wrong_email_is_refused(english, merchant, owner):
    invitation = staff_invite(merchant=merchant, by=owner, email="hugo@example.test")
    intruder = VerifiedUserFactory(email="quelquun@example.test")
    english.force_login(intruder)
    page = english.get(accept_url(invitation)).content.decode()
    assert "sent to another e-mail address" in page and "Accept and join" not in page
    assert "Log out, then log in or sign up with the invited address" in page
    response = english.post(accept_url(invitation), follow=True)
    assert "sent to another e-mail address" in flash(response)
    assert not Membership.objects.filter(user=intruder).exists()
    assert StaffInvitation.objects.get().accepted_at is None
    assert audit_kinds(merchant) == ["staff.invited"]


def test_an_expired_invitation_is_refused(english, merchant, owner):
    invitation = staff_invite(merchant=merchant, by=owner, email="hugo@example.test")
    hugo = VerifiedUserFactory(email="hugo@example.test")
    with travel(invitation.invited_at + timedelta(days=14, seconds=1)):
        english.force_login(hugo)
        response = english.post(accept_url(invitation), follow=True)
    assert "expired" in flash(response)
    assert not Membership.objects.filter(user=hugo).exists()
    with travel(invitation.invited_at + timedelta(days=13, hours=23)):
        staff_invitation_accept(token=invitation.token, user=hugo)
    assert Membership.objects.filter(user=hugo, merchant=merchant).exists()


def test_a_consumer_who_filed_complaints_cannot_become_staff(english, merchant, other_merchant, owner):
    camille = VerifiedUserFactory(email="camille@example.test")
    file_complaint(camille, other_merchant)
    invitation = staff_invite(merchant=merchant, by=owner, email="camille@example.test")
    english.force_login(camille)
    page = english.get(accept_url(invitation)).content.decode()
    assert "a consumer account cannot become a merchant" in page
    response = english.post(accept_url(invitation), follow=True)
    assert "a consumer account cannot become a merchant" in flash(response)
    assert not camille.memberships.exists()
    assert StaffInvitation.objects.get().accepted_at is None


def test_a_mediator_cannot_join_a_merchants_team(merchant, owner, mediator):
    invitation = staff_invite(merchant=merchant, by=owner, email=mediator.email)
    with translation.override("en"), pytest.raises(InvalidInput, match="mediator"):
        staff_invitation_accept(token=invitation.token, user=mediator)
    assert not Membership.objects.filter(user=mediator, merchant=merchant).exists()


def test_a_revoked_invitation_no_longer_works(english, merchant, owner):
    invitation = staff_invite(merchant=merchant, by=owner, email="hugo@example.test")
    english.force_login(owner)
    response = english.post(revoke_url(invitation), follow=True)
    assert "has been revoked" in flash(response)
    assert audit_kinds(merchant) == ["staff.invited", "staff.invitation_revoked"]
    hugo = VerifiedUserFactory(email="hugo@example.test")
    with pytest.raises(InvalidInput, match="revoked"):
        staff_invitation_accept(token=invitation.token, user=hugo)
    assert "hugo@example.test" not in english.get(team_url(merchant)).content.decode()


def test_an_unknown_token_is_404(english, agent):
    english.force_login(agent)
    assert english.get(reverse("team:invitation_accept", kwargs={"token": "nope"})).status_code == 404
    with pytest.raises(InvalidInput):
        staff_invitation_accept(token="nope", user=agent)


# --- Who may do what ------------------------------------------------------------------------------


def test_an_agent_cannot_invite_remove_or_revoke(english, merchant, owner, agent):
    colleague = MembershipFactory(role=Role.MERCHANT_AGENT, merchant=merchant)
    invitation = staff_invite(merchant=merchant, by=owner, email="hugo@example.test")
    english.force_login(agent)

    response = english.post(invite_url(merchant), {"email": "ami@example.test"}, follow=True)
    assert "Only the merchant's owner" in flash(response)
    response = english.post(remove_url(colleague), follow=True)
    assert "Only the merchant's owner" in flash(response)
    owner_membership = Membership.objects.get(user=owner, merchant=merchant)
    response = english.post(remove_url(owner_membership), follow=True)
    assert "Only the merchant's owner" in flash(response)
    response = english.post(revoke_url(invitation), follow=True)
    assert "Only the merchant's owner" in flash(response)

    assert StaffInvitation.objects.count() == 1
    assert StaffInvitation.objects.get().revoked_at is None
    assert Membership.objects.filter(merchant=merchant).count() == 3
    assert audit_kinds(merchant) == ["staff.invited"]
    with pytest.raises(Forbidden):
        staff_invite(merchant=merchant, by=agent, email="ami@example.test")
    with pytest.raises(Forbidden):
        staff_remove(membership=colleague, by=agent)


def test_agents_see_the_team_but_not_the_owners_controls(english, merchant, owner, agent):
    staff_invite(merchant=merchant, by=owner, email="hugo@example.test")
    english.force_login(agent)
    page = english.get(team_url(merchant)).content.decode()
    assert owner.email in page and agent.email in page and "hugo@example.test" in page
    assert invite_url(merchant) not in page and "/remove/" not in page and "/revoke/" not in page
    english.force_login(owner)
    page = english.get(team_url(merchant)).content.decode()
    assert invite_url(merchant) in page
    assert remove_url(agent_membership(agent, merchant)) in page
    assert '<label for="id_email">' in page


def test_owner_removes_an_agent(english, merchant, owner, agent):
    english.force_login(owner)
    membership = agent_membership(agent, merchant)
    response = english.post(remove_url(membership), follow=True)
    assert "has been removed from the team" in flash(response)
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert audit_kinds(merchant) == ["staff.removed"]
    event = AuditEvent.objects.get(stream=merchant_stream(merchant))
    assert event.payload["user_id"] == agent.pk and event.actor == owner
    # The former agent no longer sees anything of the merchant.
    english.force_login(agent)
    assert english.get(team_url(merchant)).status_code == 404


def test_an_owner_cannot_be_removed(english, merchant, owner):
    second_owner = MembershipFactory(role=Role.MERCHANT_OWNER, merchant=merchant)
    english.force_login(owner)
    response = english.post(remove_url(second_owner), follow=True)
    assert "An owner cannot be removed" in flash(response)
    assert Membership.objects.filter(pk=second_owner.pk).exists()
    with pytest.raises(InvalidInput):
        staff_remove(membership=Membership.objects.get(user=owner), by=owner)
    assert audit_kinds(merchant) == []


def test_other_merchants_staff_get_404_on_every_team_url(english, merchant, owner, agent, other_agent):
    other_owner = MembershipFactory(role=Role.MERCHANT_OWNER, merchant=other_agent.memberships.get().merchant)
    invitation = staff_invite(merchant=merchant, by=owner, email="hugo@example.test")
    membership = agent_membership(agent, merchant)
    for outsider in (other_agent, other_owner.user, UserFactory()):
        english.force_login(outsider)
        assert english.get(team_url(merchant)).status_code == 404
        assert english.get(settings_url(merchant)).status_code == 404
        assert english.post(invite_url(merchant), {"email": "x@example.test"}).status_code == 404
        assert english.post(remove_url(membership)).status_code == 404
        assert english.post(revoke_url(invitation)).status_code == 404
    assert StaffInvitation.objects.count() == 1 and StaffInvitation.objects.get().revoked_at is None
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_team_page_queries_do_not_grow_with_the_team(english, merchant, owner):
    english.force_login(owner)
    english.get(team_url(merchant))  # warm the session

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert english.get(team_url(merchant)).status_code == 200
        return len(queries)

    small = count()
    for number in range(4):
        MembershipFactory(role=Role.MERCHANT_AGENT, merchant=merchant)
        staff_invite(merchant=merchant, by=owner, email=f"recrue{number}@example.test")
    assert count() == small


def test_a_missing_merchant_is_the_same_404(english, agent):
    english.force_login(agent)
    assert english.get(reverse("team:members", kwargs={"merchant_id": 999999})).status_code == 404
    assert english.get(reverse("team:settings", kwargs={"merchant_id": 999999})).status_code == 404


def test_an_owner_cannot_reach_another_merchants_rows_through_its_own_url(
    english, merchant, owner, other_agent
):
    other_membership = other_agent.memberships.get()
    english.force_login(owner)
    url = reverse("team:remove", kwargs={"merchant_id": merchant.pk, "membership_id": other_membership.pk})
    assert english.post(url).status_code == 404
    other_owner = MembershipFactory(role=Role.MERCHANT_OWNER, merchant=other_membership.merchant).user
    foreign = staff_invite(merchant=other_membership.merchant, by=other_owner, email="z@example.test")
    url = reverse("team:revoke", kwargs={"merchant_id": merchant.pk, "invitation_id": foreign.pk})
    assert english.post(url).status_code == 404
    assert Membership.objects.filter(pk=other_membership.pk).exists()


def test_team_pages_need_a_login(client, merchant):
    for url in (team_url(merchant), settings_url(merchant)):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_team_changes_only_by_post(english, merchant, owner, agent):
    english.force_login(owner)
    assert english.get(invite_url(merchant)).status_code == 405
    assert english.get(remove_url(agent_membership(agent, merchant))).status_code == 405


def test_team_pages_have_no_inline_script_or_style(english, merchant, owner):
    invitation = staff_invite(merchant=merchant, by=owner, email=owner.email.replace("@", "+x@"))
    english.force_login(owner)
    for url in (team_url(merchant), settings_url(merchant), accept_url(invitation)):
        page = english.get(url).content.decode()
        assert re.search(r"<script(?![^>]*\bsrc=)", page) is None
        assert ' style="' not in page
        assert page.count("<h1") == 1


# --- Settings: the designated mediator and what to publish (D5) -----------------------------------


@pytest.fixture
def tricky_merchant(db):
    body = MediationBodyFactory(
        name="Médiation & Consommation <Ouest>", website="https://mediation.example/?a=1&b=2"
    )
    return MerchantFactory(legal_name="L'Atelier SAS", mediation_body=body)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_d5_settings_page_gives_the_mediator_in_the_text_and_the_escaped_snippet(
    client, tricky_merchant, language
):
    agent = MembershipFactory(role=Role.MERCHANT_AGENT, merchant=tricky_merchant).user
    client.force_login(agent)
    response = client.get(settings_url(tricky_merchant), headers={"accept-language": language})
    assert response.status_code == 200
    page = response.content.decode()
    # The facts, shown as such (escaped once, like any text on the page).
    assert "Médiation &amp; Consommation &lt;Ouest&gt;" in page
    assert "https://mediation.example/?a=1&amp;b=2" in page
    # Both versions are there whatever the page language.
    notices = re.findall(
        r'<textarea id="notice-(text|html)-(fr|en)" readonly[^>]*>(.*?)</textarea>', page, re.S
    )
    assert {(kind, code) for kind, code, _ in notices} == {
        ("text", "fr"),
        ("text", "en"),
        ("html", "fr"),
        ("html", "en"),
    }
    for kind, code, content in notices:
        # What the merchant copies is the textarea's content once the browser unescapes it.
        copied = html.unescape(content)
        assert "Médiation & Consommation <Ouest>" in copied or kind == "html"
        assert "https://odr.example.test/" in copied
        assert "L616-1" in copied and "R616-1" in copied
        if kind == "html":
            # The snippet is HTML, escaped in the page (shown, never rendered)…
            assert "<section" not in content and "&lt;section" in content
            assert f'<section lang="{code}"' in copied
            # …and itself escapes the mediator's details, so that it is valid HTML once pasted.
            assert "Médiation &amp; Consommation &lt;Ouest&gt;" in copied
            assert 'href="https://mediation.example/?a=1&amp;b=2"' in copied
        else:
            assert "https://mediation.example/?a=1&b=2" in copied
    assert '<p class="notice">' in page  # read-only: changes go through the platform's staff


def test_d5_the_snippet_says_the_merchant_takes_part_only_if_it_does(english, merchant, agent):
    english.force_login(agent)
    assert "undertakes to take part in mediation" in english.get(settings_url(merchant)).content.decode()
    merchant.takes_part_in_mediation = False
    merchant.save()
    page = english.get(settings_url(merchant)).content.decode()
    assert "undertakes to take part in mediation" not in page
    assert "will not take part in mediation" in page
    assert "These details are read-only" in page
