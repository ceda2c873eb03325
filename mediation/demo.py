"""Demo data: one mediation body, two merchants, their staff, consumers, mediators, a compliance
officer, and about twenty cases spread over every state of both stages.

Every case is built through the same services the portals use, each step at its own moment in the
past (`odr.clock.at`), so deadlines, the audit trail and the outbox are exactly what real use leaves,
and `verify_audit` passes on them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from allauth.account.models import EmailAddress
from django.db import transaction

from complaints import services as complaints
from complaints.models import Category, Complaint, Offer
from mediation import services as mediation
from mediation.models import MediationCase, ProposalResponse, RefusalReason
from odr import clock
from odr.accounts.models import MediationBody, Membership, Merchant, Role, User

DEMO_BODY_SLUG = "demo"
DEMO_PASSWORD = "demo-odr-2026"


@dataclass
class Cast:
    body: MediationBody
    lumiere: Merchant
    electro: Merchant
    lumiere_agent: User
    electro_agent: User
    camille: User
    leo: User
    ines: User
    mediator: User
    mediator2: User


LOGINS = [
    ("admin@demo.test", "platform staff (Django admin at /admin/)"),
    ("camille@demo.test", "consumer"),
    ("leo@demo.test", "consumer"),
    ("ines@demo.test", "consumer"),
    ("owner@lumiere.demo", "merchant owner, Librairie Lumière"),
    ("agent@lumiere.demo", "merchant agent, Librairie Lumière"),
    ("owner@electroplus.demo", "merchant owner, ÉlectroPlus"),
    ("agent@electroplus.demo", "merchant agent, ÉlectroPlus"),
    ("mediator@demo.test", "mediator"),
    ("mediator2@demo.test", "mediator"),
    ("compliance@demo.test", "compliance officer"),
]


def _user(email: str, first: str, last: str, **extra) -> User:
    user = User.objects.create_user(
        email=email, password=DEMO_PASSWORD, first_name=first, last_name=last, **extra
    )
    # Logging in needs a verified address (ACCOUNT_EMAIL_VERIFICATION = "mandatory"): the demo's
    # people have theirs verified already, so that their password is enough.
    EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return user


def _member(user: User, role: str, *, merchant=None, body=None) -> User:
    Membership.objects.create(user=user, role=role, merchant=merchant, mediation_body=body)
    return user


def _cast() -> Cast:
    body = MediationBody.objects.create(
        name="Médiateur du e-commerce (démo)",
        slug=DEMO_BODY_SLUG,
        website="https://mediateur-ecommerce.example",
        time_zone="Europe/Paris",
        listing_number="CECMC-DEMO-001",
    )
    lumiere = Merchant.objects.create(
        legal_name="Librairie Lumière SAS",
        trading_name="Librairie Lumière",
        registration_number="81234567800012",
        website="https://librairie-lumiere.example",
        contact_email="service-client@lumiere.demo",
        mediation_body=body,
    )
    electro = Merchant.objects.create(
        legal_name="ÉlectroPlus SARL",
        trading_name="ÉlectroPlus",
        vat_number="FR45912345678",
        website="https://electroplus.example",
        mediation_body=body,
    )
    _user("admin@demo.test", "Ada", "Admin", is_staff=True, is_superuser=True)
    _member(_user("owner@lumiere.demo", "Louise", "Lumière"), Role.MERCHANT_OWNER, merchant=lumiere)
    _member(_user("owner@electroplus.demo", "Étienne", "Plus"), Role.MERCHANT_OWNER, merchant=electro)
    _member(_user("compliance@demo.test", "Claire", "Conformité"), Role.COMPLIANCE_OFFICER, body=body)
    return Cast(
        body=body,
        lumiere=lumiere,
        electro=electro,
        lumiere_agent=_member(
            _user("agent@lumiere.demo", "Hugo", "Martin"), Role.MERCHANT_AGENT, merchant=lumiere
        ),
        electro_agent=_member(
            _user("agent@electroplus.demo", "Sarah", "Benali"), Role.MERCHANT_AGENT, merchant=electro
        ),
        camille=_user("camille@demo.test", "Camille", "Durand"),
        leo=_user("leo@demo.test", "Léo", "Moreau", preferred_language="en"),
        ines=_user("ines@demo.test", "Inès", "Lefèvre"),
        mediator=_member(_user("mediator@demo.test", "Marc", "Médiateur"), Role.MEDIATOR, body=body),
        mediator2=_member(_user("mediator2@demo.test", "Nadia", "Rahmani"), Role.MEDIATOR, body=body),
    )


class Story:
    """One case's life, each step `days_ago` in the past."""

    def __init__(self, now: datetime):
        self.now = now

    def at(self, days_ago: float, step: Callable):
        with clock.at(self.now - timedelta(days=days_ago)):
            return step()


COMPLAINTS = [
    # (consumer, merchant, category, description, desired outcome, amount in cents)
    (
        "camille",
        "lumiere",
        Category.NON_DELIVERY,
        "Trois livres commandés, jamais reçus.",
        "Remboursement.",
        6450,
    ),
    (
        "leo",
        "electro",
        Category.NON_CONFORMITY,
        "The headphones crackle on the left side.",
        "Replacement.",
        12900,
    ),
    (
        "ines",
        "lumiere",
        Category.DELIVERY_DELAY,
        "Livraison annoncée en 48 h, reçue après 3 semaines.",
        "Frais de port remboursés.",
        690,
    ),
    (
        "camille",
        "electro",
        Category.GUARANTEE,
        "Aspirateur en panne après 8 mois.",
        "Réparation sous garantie légale.",
        21900,
    ),
    (
        "leo",
        "lumiere",
        Category.BILLING,
        "Charged twice for one order.",
        "Refund of the second charge.",
        3480,
    ),
    (
        "ines",
        "electro",
        Category.WITHDRAWAL_REFUND,
        "Rétractation envoyée le 3e jour, pas de remboursement.",
        "Remboursement intégral.",
        45900,
    ),
]


def _file(cast: Cast, index: int, **extra) -> Complaint:
    consumer, merchant, category, description, desired, amount = COMPLAINTS[index % len(COMPLAINTS)]
    return complaints.complaint_file(
        consumer=getattr(cast, consumer),
        merchant=getattr(cast, merchant),
        category=category,
        description=description,
        desired_outcome=desired,
        order_reference=f"CMD-{2600 + index}",
        amount_cents=amount,
        **extra,
    )


def _agent(cast: Cast, complaint: Complaint) -> User:
    return cast.lumiere_agent if complaint.merchant_id == cast.lumiere.pk else cast.electro_agent


def _referred(cast: Cast, story: Story, index: int, start: float, **declarations) -> MediationCase:
    complaint = story.at(start, lambda: _file(cast, index))
    agent = _agent(cast, complaint)
    story.at(
        start - 5,
        lambda: complaints.complaint_answer(
            complaint=complaint, by=agent, decision="reject", text="Nous ne pouvons pas donner suite."
        ),
    )
    fields = {"other_proceedings": False, "acting_as_consumer": True, **declarations}
    return story.at(
        start - 7, lambda: mediation.case_refer(complaint=complaint, by=complaint.consumer, **fields)
    )


def _opened(cast: Cast, story: Story, index: int, start: float, mediator=None) -> MediationCase:
    case = _referred(cast, story, index, start)
    return story.at(start - 12, lambda: mediation.case_open(case=case, by=mediator or cast.mediator))


def _with_proposal(cast: Cast, story: Story, index: int, start: float):
    case = _opened(cast, story, index, start)
    proposal = story.at(
        start - 40,
        lambda: mediation.proposal_issue(
            case=case, by=cast.mediator, solution="Le marchand rembourse le montant payé sous 14 jours."
        ),
    )
    return case, proposal


def _stories(cast: Cast, story: Story) -> None:
    at = story.at
    # --- Stage 1 only -----------------------------------------------------------------------
    _c = at(2, lambda: _file(cast, 0))  # filed: waiting for the merchant
    at(
        1,
        lambda: complaints.complaint_post_message(
            complaint=_c, by=_c.consumer, body="Avez-vous des nouvelles ?"
        ),
    )
    at(8, lambda: _file(cast, 1))
    lapsed = at(40, lambda: _file(cast, 2))  # the merchant let the 30 days pass (D3, D4)
    at(9, lambda: complaints.complaint_response_lapsed(complaint=lapsed))
    offered = at(15, lambda: _file(cast, 3))  # answered with an offer, consumer countered
    at(
        12,
        lambda: complaints.complaint_answer(
            complaint=offered,
            by=_agent(cast, offered),
            decision="offer",
            text="Nous proposons un avoir.",
            amount_cents=10000,
        ),
    )
    at(
        10,
        lambda: complaints.offer_make(
            complaint=offered,
            by=offered.consumer,
            terms="Je préfère un remboursement de 150 €.",
            amount_cents=15000,
            responds_to=Offer.objects.get(complaint=offered),
        ),
    )
    resolved = at(30, lambda: _file(cast, 4))  # resolved by accepting the merchant's offer
    at(
        28,
        lambda: complaints.complaint_answer(
            complaint=resolved,
            by=_agent(cast, resolved),
            decision="offer",
            text="Remboursement du double débit.",
            amount_cents=3480,
        ),
    )
    at(
        27,
        lambda: complaints.offer_respond(
            offer=Offer.objects.get(complaint=resolved), by=resolved.consumer, accept=True
        ),
    )
    withdrawn = at(20, lambda: _file(cast, 5))
    at(
        18,
        lambda: complaints.complaint_withdraw(
            complaint=withdrawn, by=withdrawn.consumer, reason="Réglé directement."
        ),
    )
    expired = at(400, lambda: _file(cast, 0))  # nobody referred it within the year (D8)
    at(
        380,
        lambda: complaints.complaint_answer(
            complaint=expired, by=_agent(cast, expired), decision="reject", text="Refus."
        ),
    )
    at(34, lambda: complaints.complaint_expire(complaint=expired))

    # --- Stage 2 --------------------------------------------------------------------------
    _referred(cast, story, 1, 12)  # received: admissibility due in 21 days
    _referred(cast, story, 2, 10)
    waiting = _referred(cast, story, 3, 20)  # awaiting documents (D13)
    at(
        11,
        lambda: mediation.case_request_documents(
            case=waiting, by=cast.mediator2, text="Merci de joindre la facture."
        ),
    )
    refused = _referred(
        cast, story, 4, 45, other_proceedings=True
    )  # refused: already before a court (D9, D11)
    at(
        30,
        lambda: mediation.case_reject(
            case=refused,
            by=cast.mediator,
            reason=RefusalReason.ALREADY_EXAMINED,
            reasoning="Le tribunal judiciaire est saisi.",
        ),
    )
    _opened(cast, story, 5, 30)  # open, outcome due in about 70 days
    _opened(cast, story, 0, 50, mediator=cast.mediator2)
    overdue = _opened(cast, story, 1, 120)  # open past its 90 days: overdue (D18)
    at(2, lambda: mediation.case_mark_overdue(case=overdue))
    extended = _opened(cast, story, 2, 100)  # extended for a complex dispute (D17)
    at(
        15,
        lambda: mediation.case_extend(
            case=extended,
            by=cast.mediator,
            reason="Expertise technique demandée.",
            new_due_date=(story.now + timedelta(days=40)).date(),
        ),
    )
    at(
        14,
        lambda: mediation.case_disclose_conflict(
            case=extended, by=cast.mediator, text="J'ai été client de ce marchand."
        ),
    )
    _with_proposal(cast, story, 3, 45)  # proposal issued 5 days ago, answers awaited (D25)
    for index, start in ((4, 90), (5, 150)):  # settled: both accepted (D26)
        case, proposal = _with_proposal(cast, story, index, start)
        at(
            start - 45,
            lambda p=proposal, c=case: mediation.proposal_respond(
                proposal=p, by=c.complaint.consumer, accept=True
            ),
        )
        at(
            start - 46,
            lambda p=proposal, c=case: mediation.proposal_respond(
                proposal=p, by=_agent(cast, c.complaint), accept=True
            ),
        )
    case, proposal = _with_proposal(cast, story, 0, 100)  # no agreement: the merchant refused
    at(
        50,
        lambda: mediation.proposal_respond(proposal=proposal, by=_agent(cast, case.complaint), accept=False),
    )
    case, proposal = _with_proposal(cast, story, 1, 110)  # no agreement: silence is refusal (D25)
    at(65, lambda: mediation.proposal_respond(proposal=proposal, by=case.complaint.consumer, accept=True))
    for response in ProposalResponse.objects.filter(proposal=proposal, decision="pending"):
        at(50, lambda r=response: mediation.proposal_deem_refused(response=r))
    case = _opened(cast, story, 2, 70)  # discontinued: the consumer withdrew (D19)
    at(
        40,
        lambda: mediation.case_add_representative(
            case=case,
            by=case.complaint.consumer,
            name="Maître Anne Roussel",
            email="roussel@avocats.example",
            capacity="lawyer",
        ),
    )
    at(
        35,
        lambda: mediation.case_withdraw(
            case=case, by=case.complaint.consumer, reason="Accord trouvé avec le marchand."
        ),
    )
    declined = _referred(cast, story, 3, 25)  # the merchant declined to take part (D23)
    at(
        15,
        lambda: mediation.case_merchant_decline(
            case=declined, by=_agent(cast, declined.complaint), reason="Nous ne participons pas."
        ),
    )


def seed_demo(now: datetime | None = None) -> bool:
    """Create the demo data. Returns False, changing nothing, if it is already there."""
    if MediationBody.objects.filter(slug=DEMO_BODY_SLUG).exists():
        return False
    with transaction.atomic():
        cast = _cast()
        _stories(cast, Story(now or clock.now()))
    return True
