"""D30 (issue 6, item 6): every mediator, compliance and mediation URL — and every parties URL —
requested by someone who may not see body A's case answers 404: never A's data, never a change.

The table is the URL resolver's own list: every pattern of the namespaces "mediator", "compliance",
"mediation" and "parties". A URL added to one of them fails `test_d30_every_url_is_in_the_table` until
it is given a row here (or, if it takes no object of anyone's, an entry in NO_OBJECT saying why).

Every parameter is filled with an object of body A, made through the services: `reference` → each of
A's cases (one referred and not taken yet, one open, one with a proposal awaiting answers — so that
any action a missing check let through would succeed in one of them), or A's rejected complaint for
the referral; `slug` → body A; `pk` → a file, a proposal or a rendered document of A's case; `uid`
and `receipt_id` → the consumer's consent and its receipt. Each URL is asked with GET and with a
POST of valid input; both must be a 404 (or a 405 where the view serves only the other method,
which then answers 404), the response must hold none of A's data, and the database and the media
folder must be as they were.

Who is refused (D30: the parties, the assigned mediator and the body's compliance officers only):
- everywhere: a mediator and a compliance officer of another body, a consumer who is not a party,
  an agent of another merchant;
- on the mediator's URLs: also body A's own compliance officer and the case's parties (they have
  their own pages);
- on the compliance URLs (and the body's reports, "mediation:body_documents*"): also body A's own
  mediator and the parties;
- the documents of a case: each party gets its own copy of the record, never the other's nor the
  full one; the body's reports only its compliance officers.
The parties' own URLs are in tests/mediation/test_party_views.py for A's people and two strangers;
here they are asked by the two strangers that table leaves out too (another body's mediator and
compliance officer).
"""

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, get_resolver, reverse

from complaints.evidence import evidence_add
from complaints.models import Complaint, Evidence
from complaints.services import complaint_answer
from mediation.case_documents import case_document_add
from mediation.models import (
    Audience,
    CaseMessage,
    CaseState,
    ConflictDisclosure,
    DeadlineExtension,
    DocumentRequest,
    MediationCase,
    Proposal,
    ProposalResponse,
    RefusalReason,
    Representative,
)
from mediation.services import (
    case_assign,
    case_disclose_conflict,
    case_open,
    case_post_message,
    case_refer,
    proposal_issue,
)
from odr.accounts.models import Membership, Role
from odr.audit.models import AuditEvent
from odr.consent.models import ConsentPurpose, ConsentReceipt, ConsentRecord
from odr.deadlines.models import Deadline
from odr.documents.models import DocumentKind, DocumentStatus, GeneratedDocument
from odr.documents.services import document_render, document_request
from odr.notifications.models import OutboxMessage
from tests.factories import MembershipFactory, MerchantFactory, UserFactory
from tests.helpers import file_complaint, pdf_bytes, pdf_upload, referred_case, travel

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)
NOW = START + timedelta(days=5)

SECRET_DESCRIPTION = "Trottinette Zéphyr-9 livrée sans chargeur, numéro de série ZX-55-7713-QA."
SECRET_JOINT = "Le transporteur Rapidéo confirme la perte du colis n° 8M-224-991."
SECRET_TO_CONSUMER = "Entre nous : le marchand a déjà remboursé trois clients pour ce modèle."
SECRET_TO_MERCHANT = "Entre nous : votre suivi Rapidéo ne prouve pas la remise en main propre."
SECRET_SOLUTION = "Remboursement de 349,00 € et reprise de la trottinette Zéphyr-9 à vos frais."
SECRET_DISCLOSURE = "J'ai travaillé chez Trottinettes Zéphyr jusqu'en 2019."

NAMESPACES = ("mediator", "compliance", "mediation", "parties")
CASES = ("received", "open", "proposed")  # A's cases, by state; see `body_a`

# URLs that take no object of anyone's. They are still requested below by everyone, and must not
# show A's data.
NO_OBJECT = {
    "mediator:workspace": "the requesting mediator's own queues (404 for anyone who is no mediator)",
}

CONSUMER_SIDE = ("consumer",)
MERCHANT_SIDE = ("agent", "owner")
PARTIES = CONSUMER_SIDE + MERCHANT_SIDE
MEDIATOR_URL_EXTRA = ("compliance_officer", *PARTIES)  # they have their own pages
COMPLIANCE_URL_EXTRA = ("mediator", *PARTIES)


def _upload():
    return {"file": pdf_upload("intrus.pdf", "Intrus")}


# Per URL:
# - "cases": which of A's cases fill `reference` (all three by default; "complaint" for the referral,
#   whose `reference` is the complaint's);
# - "pk": which object(s) of A's case (or of body A) fill `pk`, one URL each;
# - "post": what is POSTed — valid input, so that a missing check would change something;
# - "also": who of body A's own people must get the 404 too, besides the four strangers (per `pk`
#   kind where it depends on the object).
TABLE = {
    # The mediator's pages (mediation/mediator_urls.py).
    "mediator:case": {"also": MEDIATOR_URL_EXTRA},
    "mediator:evidence_download": {"pk": ("evidence",), "also": MEDIATOR_URL_EXTRA},
    "mediator:take": {"also": MEDIATOR_URL_EXTRA},
    "mediator:assign": {"post": "colleague", "also": MEDIATOR_URL_EXTRA},
    "mediator:request_documents": {"post": {"text": "Toutes vos factures."}, "also": MEDIATOR_URL_EXTRA},
    "mediator:complete_file": {"also": MEDIATOR_URL_EXTRA},
    "mediator:admit": {"also": MEDIATOR_URL_EXTRA},
    "mediator:reject": {
        "post": {"reason": RefusalReason.UNFOUNDED_OR_ABUSIVE, "reasoning": "Non fondé."},
        "also": MEDIATOR_URL_EXTRA,
    },
    "mediator:message": {
        "post": {"audience": Audience.EVERYONE, "body": "Bonjour à tous."},
        "also": MEDIATOR_URL_EXTRA,
    },
    "mediator:disclose": {"post": {"text": "Je connais le gérant."}, "also": MEDIATOR_URL_EXTRA},
    "mediator:extend": {
        "post": {"new_due_date": "2026-12-31", "reason": "Expertise."},
        "also": MEDIATOR_URL_EXTRA,
    },
    "mediator:propose": {
        "post": {"solution": "Avoir de 10 €.", "acceptance_days": "15"},
        "also": MEDIATOR_URL_EXTRA,
    },
    "mediator:record_agreement": {
        "post": {"solution": "Avoir de 10 €.", "acceptance_days": "15"},
        "also": MEDIATOR_URL_EXTRA,
    },
    "mediator:close": {"post": {"grounds": "Aucune solution."}, "also": MEDIATOR_URL_EXTRA},
    # The compliance area (mediation/compliance_urls.py).
    "compliance:dashboard": {"also": COMPLIANCE_URL_EXTRA},
    "compliance:breaches": {"also": COMPLIANCE_URL_EXTRA},
    "compliance:cases": {"also": COMPLIANCE_URL_EXTRA},
    "compliance:audit": {"also": COMPLIANCE_URL_EXTRA},
    "compliance:audit_export": {"also": COMPLIANCE_URL_EXTRA},
    # The case's documents and the body's reports (mediation/urls.py).
    "mediation:refer": {
        "cases": ("complaint",),
        "post": {
            "other_proceedings": "no",
            "acting_as_consumer": "yes",
            "excluded_subject": "",
            "consent": "on",
        },
        "also": ("compliance_officer", "mediator", *MERCHANT_SIDE),
    },
    "mediation:case_documents": {},
    "mediation:case_document_generate": {"post": {"kind": DocumentKind.MEDIATION_RECORD}},
    "mediation:document_download": {
        "pk": ("record_full", "record_consumer", "audit_trail", "body_report"),
        "also": {
            "record_full": PARTIES,
            "record_consumer": ("compliance_officer", "mediator", *MERCHANT_SIDE),
            "audit_trail": PARTIES,
            "body_report": COMPLIANCE_URL_EXTRA,
        },
    },
    "mediation:body_documents": {"also": COMPLIANCE_URL_EXTRA},
    "mediation:body_document_generate": {
        "post": {"kind": DocumentKind.ANNUAL_REPORT, "year": "2026"},
        "also": COMPLIANCE_URL_EXTRA,
    },
    # The parties' pages (mediation/party_urls.py): A's own people in test_party_views.py.
    "parties:case": {},
    "parties:proposal_answer": {"pk": ("proposal",), "post": {"decision": "accept"}},
    "parties:withdraw": {"post": {"reason": "Je me retire."}},
    "parties:decline": {"post": {"reason": "Nous refusons la médiation."}},
    "parties:representative_add": {
        "post": {"name": "Maître Intrus", "email": "intrus@example.test", "capacity": "lawyer"}
    },
    "parties:message_post": {"post": {"body": "Bonjour, c'est moi.", "to": "everyone"}},
    "parties:file_add": {"post": _upload},
    "parties:file_download": {"pk": ("evidence",)},
    "parties:file_comment": {"pk": ("evidence",), "post": {"body": "Ce document est faux."}},
    "parties:consent_withdraw": {},
    "parties:receipt_download": {},
    "parties:compliance_answer": {"post": {"complied": "no"}},
}

STRANGERS = ("foreign_mediator", "foreign_compliance_officer", "other_consumer", "other_agent")


def all_patterns() -> dict[str, URLPattern]:
    """Every URL pattern of the four namespaces, by its namespaced name, from the resolver."""
    resolver = get_resolver()
    found = {}
    for namespace in NAMESPACES:
        _prefix, included = resolver.namespace_dict[namespace]
        for entry in included.url_patterns:
            assert isinstance(entry, URLPattern), f"nested include in {namespace!r}: extend this walk"
            found[f"{namespace}:{entry.name}"] = entry
    return found


def parameters(pattern: URLPattern) -> list[str]:
    return list(pattern.pattern.converters)


# --- Body A: its people, three cases with one of everything, its reports ------------------------------


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"


def _name(user, first, last):
    user.first_name, user.last_name = first, last
    user.save()
    return user


def _rendered(kind, subject_reference, *, by, parameters=None):
    with transaction.atomic():
        document = document_request(
            kind=kind, subject_reference=subject_reference, by=by, language="fr", parameters=parameters
        )
    document = document_render(document.pk)
    assert document.status == DocumentStatus.READY, document.error
    return document


def _with_evidence(consumer, merchant, agent, title):
    """A complaint with a real PDF, rejected by the merchant, referred by the consumer."""
    content = pdf_bytes(title)
    complaint = file_complaint(consumer, merchant, description=SECRET_DESCRIPTION)
    evidence = evidence_add(
        complaint=complaint, by=consumer, file=ContentFile(content, name="facture-zephyr.pdf")
    )
    complaint_answer(complaint=complaint, by=agent, decision="reject", text="Nous refusons.")
    case = case_refer(complaint=complaint, by=consumer, other_proceedings=False, acting_as_consumer=True)
    return case, evidence, content


def _case_objects(case, evidence) -> dict:
    record = ConsentRecord.objects.get(
        case_reference=case.reference, person=case.complaint.consumer, purpose=ConsentPurpose.ENTER_MEDIATION
    )
    return {
        "case": case,
        "reference": case.reference,
        "evidence": evidence,
        "uid": record.uid,
        "receipt_id": record.receipts.get().receipt_id,
    }


@pytest.fixture
def body_a(body, consumer, merchant, agent, owner, mediator, second_mediator, compliance_officer):
    _name(consumer, "Camille", "Delacroix-Marchetti")
    _name(mediator, "Hortense", "Vasseur-Quillet")
    _name(agent, "Baptiste", "Oudinot-Ferrand")
    secrets = [
        SECRET_DESCRIPTION,
        SECRET_JOINT,
        SECRET_TO_CONSUMER,
        SECRET_TO_MERCHANT,
        SECRET_SOLUTION,
        SECRET_DISCLOSURE,
        consumer.display_name,
        consumer.email,
        mediator.display_name,
        agent.display_name,
        merchant.legal_name,
    ]
    cases = {}
    with travel(START):
        # Referred, nobody has taken it yet: any mediator of body A sees it, to take it.
        received, evidence, content = _with_evidence(consumer, merchant, agent, "Facture reçue")
        cases["received"] = _case_objects(received, evidence)
        files = [content]
        # Open, assigned to A's mediator: messages on every channel, a disclosure.
        opened, evidence, content = _with_evidence(consumer, merchant, agent, "Facture ouverte")
        case_assign(case=opened, by=mediator, mediator=mediator)
        opened = case_open(case=opened, by=mediator)
        cases["open"] = _case_objects(opened, evidence)
        files.append(content)
        # A proposal awaiting both answers, with a file the consumer added during the mediation.
        proposed, evidence, content = _with_evidence(consumer, merchant, agent, "Facture proposée")
        case_assign(case=proposed, by=mediator, mediator=mediator)
        proposed = case_open(case=proposed, by=mediator)
        files.append(content)
    with travel(START + timedelta(days=1)):
        for case in (opened, proposed):
            case_post_message(case=case, by=consumer, body=SECRET_JOINT)
            case_post_message(
                case=case, by=mediator, body=SECRET_TO_CONSUMER, audience=Audience.CONSUMER_PRIVATE
            )
            case_post_message(
                case=case, by=mediator, body=SECRET_TO_MERCHANT, audience=Audience.MERCHANT_PRIVATE
            )
        case_disclose_conflict(case=opened, by=mediator, text=SECRET_DISCLOSURE)
        added = pdf_bytes("Photo de la trottinette")
        case_file = case_document_add(case=proposed, by=consumer, file=ContentFile(added, name="photo.pdf"))
        files.append(added)
        proposal = proposal_issue(case=proposed, by=mediator, solution=SECRET_SOLUTION)
        cases["proposed"] = _case_objects(MediationCase.objects.get(pk=proposed.pk), case_file)
        cases["proposed"]["proposal"] = proposal
    with travel(START + timedelta(days=2)):
        # Every kind of document a URL serves, rendered as the `pdf` queue renders them.
        reference = proposed.reference
        documents = {
            "record_full": _rendered(
                DocumentKind.MEDIATION_RECORD, reference, by=mediator, parameters={"audience": "full"}
            ),
            "record_consumer": _rendered(
                DocumentKind.MEDIATION_RECORD, reference, by=consumer, parameters={"audience": "consumer"}
            ),
            "audit_trail": _rendered(DocumentKind.AUDIT_TRAIL, reference, by=compliance_officer),
            "body_report": _rendered(
                DocumentKind.ANNUAL_REPORT,
                f"B-{body.slug}",
                by=compliance_officer,
                parameters={"body": body.slug, "year": 2026},
            ),
        }
        # A complaint rejected by the merchant, not referred yet: the referral URL's object.
        complaint = file_complaint(consumer, merchant, description=SECRET_DESCRIPTION)
        complaint = complaint_answer(complaint=complaint, by=agent, decision="reject", text="Nous refusons.")
    cases["proposed"].update(documents)
    for objects in cases.values():
        secrets += [objects["reference"], objects["case"].complaint.reference]
    for document in documents.values():
        data = Path(document.file.path).read_bytes()
        files.append(data[len(data) // 2 : len(data) // 2 + 64])  # a slice of the file's own bytes
    assert {key: objects["case"].state for key, objects in cases.items()} == {
        "received": CaseState.RECEIVED,
        "open": CaseState.OPEN,
        "proposed": CaseState.PROPOSAL_ISSUED,
    }
    return {
        "body": body,
        "slug": body.slug,
        "cases": cases,
        "complaint": {"reference": complaint.reference},
        "colleague": second_mediator,
        # What must never reach anyone refused: texts, names, references, the files' bytes.
        "secrets": [s.encode() for s in [*secrets, complaint.reference]] + files,
    }


@pytest.fixture
def people(consumer, agent, owner, mediator, compliance_officer, other_body, other_consumer, other_agent):
    """Everyone who asks; the strangers of body B have a case of their own in their body."""
    foreign_mediator = MembershipFactory(role=Role.MEDIATOR, mediation_body=other_body, merchant=None).user
    foreign_officer = MembershipFactory(
        role=Role.COMPLIANCE_OFFICER, mediation_body=other_body, merchant=None
    ).user
    foreign_merchant = MerchantFactory(mediation_body=other_body)
    foreign_agent = MembershipFactory(role=Role.MERCHANT_AGENT, merchant=foreign_merchant).user
    with travel(START):
        own_case = referred_case(UserFactory(), foreign_merchant, foreign_agent)
    return {
        "consumer": consumer,
        "agent": agent,
        "owner": owner,
        "mediator": mediator,
        "compliance_officer": compliance_officer,
        "foreign_mediator": foreign_mediator,
        "foreign_compliance_officer": foreign_officer,
        "other_consumer": other_consumer,
        "other_agent": other_agent,
        "other_body": other_body,
        "foreign_case": own_case,
    }


def requests_for(name: str, pattern: URLPattern, a: dict) -> list[tuple[str, str, dict]]:
    """(URL, pk kind or "", POST data) for every object of A the URL can be given."""
    row = TABLE[name]
    params = parameters(pattern)
    if "reference" in params:
        sources = [
            a["complaint"] if key == "complaint" else a["cases"][key] for key in row.get("cases", CASES)
        ]
    else:  # the body's pages (`slug`) and the documents (`pk` alone): the documents of A's last case
        sources = [a["cases"]["proposed"]]
    found = []
    for source in sources:
        for kind in row.get("pk", ("",)) if "pk" in params else ("",):
            if kind and kind not in source:
                continue  # e.g. no proposal in the case not yet open
            kwargs = {}
            for parameter in params:
                if parameter == "pk":
                    kwargs["pk"] = source[kind].pk
                elif parameter == "slug":
                    kwargs["slug"] = a["slug"]
                else:
                    assert parameter in source, f"{name}: no value of body A for the parameter {parameter!r}"
                    kwargs[parameter] = source[parameter]
            found.append((reverse(name, kwargs=kwargs), kind, post_data(name, a)))
    assert found, f"{name}: no object of body A to fill it with"
    return found


def post_data(name: str, a: dict) -> dict:
    data = TABLE[name].get("post", {})
    if data == "colleague":
        return {"mediator": a["colleague"].pk}
    return data() if callable(data) else dict(data)


def refused_to(name: str, kind: str) -> set[str]:
    """Who must get the 404 on this URL (for this object): the strangers, and A's people named."""
    also = TABLE[name].get("also", ())
    if isinstance(also, dict):
        also = also[kind]
    return {*STRANGERS, *also}


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def leaks(response, a: dict, *, location: bool = True) -> list[bytes]:
    """A's secrets found in the response's body (and the redirect's target)."""
    body = content(response) + (response.get("Location", "").encode() if location else b"")
    return [secret[:50] for secret in a["secrets"] if secret in body]


def media_files() -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def db_state() -> dict:
    return {
        "cases": list(
            MediationCase.objects.order_by("pk").values_list(
                "pk", "state", "mediator_id", "outcome_due_at", "closure_reason", "merchant_complied"
            )
        ),
        "complaints": list(Complaint.objects.order_by("pk").values_list("pk", "state")),
        "messages": CaseMessage.objects.count(),
        "proposals": Proposal.objects.count(),
        "responses": list(ProposalResponse.objects.order_by("pk").values_list("pk", "decision")),
        "disclosures": ConflictDisclosure.objects.count(),
        "extensions": DeadlineExtension.objects.count(),
        "document_requests": DocumentRequest.objects.count(),
        "representatives": Representative.objects.count(),
        "evidence": list(Evidence.objects.order_by("pk").values_list("pk", "file")),
        "documents": list(GeneratedDocument.objects.order_by("pk").values_list("pk", "status")),
        "consents": list(ConsentRecord.objects.order_by("pk").values_list("pk", "state")),
        "receipts": ConsentReceipt.objects.count(),
        "deadlines": list(Deadline.objects.order_by("pk").values_list("pk", "status")),
        "audit_events": AuditEvent.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "memberships": Membership.objects.count(),
        "files": media_files(),
    }


def check(client, name: str, url: str, data: dict, a: dict) -> list[str]:
    get = client.get(url)
    post = client.post(url, data)
    statuses = (get.status_code, post.status_code)
    problems = []
    # The method the view serves answers 404; the other may answer 405 (method not allowed).
    if not (set(statuses) <= {404, 405} and 404 in statuses):
        problems.append(f"{name} {url}: GET {statuses[0]}, POST {statuses[1]}")
    for method, response in (("GET", get), ("POST", post)):
        if found := leaks(response, a):
            problems.append(f"{name} {method} {url} shows body A's data: {found}")
    return problems


# --- The table is the resolver's list ------------------------------------------------------------------


def test_d30_every_url_is_in_the_table():
    names = set(all_patterns())
    assert not set(TABLE) & set(NO_OBJECT), "a URL is either checked or allow-listed, not both"
    assert names == set(TABLE) | set(NO_OBJECT), (
        f"not covered: {sorted(names - set(TABLE) - set(NO_OBJECT))}; "
        f"gone: {sorted(set(TABLE) | set(NO_OBJECT) - names)}"
    )
    for name in NO_OBJECT:  # the allow-list holds only URLs that take nothing to fill
        assert parameters(all_patterns()[name]) == [], name
    for name, row in TABLE.items():
        pk_kinds = row.get("pk", ())
        assert ("pk" in parameters(all_patterns()[name])) == bool(pk_kinds), f"{name}: `pk` and its kinds"
        also = row.get("also", ())
        if isinstance(also, dict):
            assert set(also) == set(pk_kinds), f"{name}: say who is refused for each kind of object"


def test_every_parameter_has_a_value_of_body_a(body_a):
    patterns = all_patterns()
    count = 0
    for name in TABLE:
        count += len(requests_for(name, patterns[name], body_a))  # fails if a value is missing
    assert count > len(TABLE)


# --- Strangers: another body's mediator and compliance officer, another consumer, another merchant ------


@pytest.mark.parametrize("who", STRANGERS)
def test_d30_strangers_get_404_on_every_url_and_change_nothing(body_a, people, who):
    client = Client()
    client.force_login(people[who])
    patterns = all_patterns()
    before = db_state()
    problems = []
    asked = 0
    with travel(NOW):
        for name in sorted(TABLE):
            for url, _kind, data in requests_for(name, patterns[name], body_a):
                problems += check(client, name, url, data, body_a)
                asked += 1
    assert problems == []
    assert db_state() == before
    assert asked >= len(TABLE)


@pytest.mark.parametrize("who", ["compliance_officer", "mediator", "consumer", "agent", "owner"])
def test_d30_body_as_own_people_get_404_on_the_pages_that_are_not_theirs(body_a, people, who):
    """The body's compliance officer on the mediator's pages, its mediator on the compliance area,
    the parties on both, each party on the other's copy of the record (D30)."""
    client = Client()
    client.force_login(people[who])
    patterns = all_patterns()
    before = db_state()
    problems = []
    asked = 0
    with travel(NOW):
        for name in sorted(TABLE):
            for url, kind, data in requests_for(name, patterns[name], body_a):
                if who in refused_to(name, kind):
                    problems += check(client, name, url, data, body_a)
                    asked += 1
    assert problems == []
    assert db_state() == before
    assert asked > 0


def test_d30_the_workspace_shows_nothing_of_body_a(body_a, people):
    """The workspace takes no object: a mediator of another body gets their own queues, anyone who is
    no mediator a 404; neither shows anything of body A."""
    before = db_state()
    with travel(NOW):
        for who in (*STRANGERS, "compliance_officer", *PARTIES):
            client = Client()
            client.force_login(people[who])
            for name in NO_OBJECT:
                response = client.get(reverse(name))
                assert response.status_code == (200 if who == "foreign_mediator" else 404), (who, name)
                assert leaks(response, body_a) == [], (who, name)
                assert client.post(reverse(name)).status_code == response.status_code, (who, name)
    assert db_state() == before


# Who may reach each URL (the positive control: the 404s above are refusals, not broken URLs).
ALLOWED = {"mediator": "mediator", "compliance": "compliance_officer", "parties": "consumer"}
ALLOWED_BY_URL = {
    "mediation:refer": "consumer",
    "mediation:case_documents": "consumer",
    "mediation:case_document_generate": "consumer",
    "mediation:body_documents": "compliance_officer",
    "mediation:body_document_generate": "compliance_officer",
    "mediation:document_download": {
        "record_full": "mediator",
        "record_consumer": "consumer",
        "audit_trail": "compliance_officer",
        "body_report": "compliance_officer",
    },
    "parties:decline": "agent",
}


def test_the_same_urls_answer_the_people_they_are_for(body_a, people):
    """Every URL of the table, asked with GET by the person it is for, is found: a page, a file, a
    redirect, or 405 for an action that only takes a POST — never a 404. Nothing is changed."""
    patterns = all_patterns()
    clients = {}
    before = db_state()
    problems = []
    with travel(NOW):
        for name in sorted(TABLE):
            for url, kind, _data in requests_for(name, patterns[name], body_a):
                who = ALLOWED_BY_URL.get(name, ALLOWED.get(name.split(":")[0]))
                who = who[kind] if isinstance(who, dict) else who
                if who not in clients:
                    clients[who] = Client()
                    clients[who].force_login(people[who])
                status = clients[who].get(url).status_code
                if status not in (200, 302, 405):
                    problems.append(f"{name} {url} for {who}: {status}")
    assert problems == []
    assert db_state() == before


def test_d30_body_as_compliance_officer_gets_404_with_another_bodys_slug(body_a, people, compliance_officer):
    """The compliance pages are looked up inside the body of the URL: A's officer asking for body B (with
    B's case, or with A's own case under B's slug) gets the 404 of a body that does not exist."""
    client = Client()
    client.force_login(compliance_officer)
    other = people["other_body"].slug
    own = body_a["cases"]["open"]["reference"]
    foreign = people["foreign_case"].reference
    before = db_state()
    urls = [
        reverse("compliance:dashboard", args=[other]),
        reverse("compliance:breaches", args=[other]),
        reverse("compliance:cases", args=[other]),
        reverse("compliance:audit", args=[other, foreign]),
        reverse("compliance:audit", args=[other, own]),
        reverse("compliance:audit", args=[body_a["slug"], foreign]),
        reverse("compliance:audit_export", args=[other, foreign]),
        reverse("compliance:audit_export", args=[body_a["slug"], foreign]),
        reverse("mediation:body_documents", args=[other]),
        reverse("mediation:body_document_generate", args=[other]),
        reverse("mediation:case_documents", args=[foreign]),
        reverse("mediation:case_document_generate", args=[foreign]),
        reverse("compliance:dashboard", args=["no-such-body"]),
    ]
    with travel(NOW):
        for url in urls:
            statuses = (client.get(url).status_code, client.post(url, {"kind": "annual_report"}).status_code)
            assert set(statuses) <= {404, 405} and 404 in statuses, (url, statuses)
        # …while its own pages answer (the 404s above are not a broken page).
        assert client.get(reverse("compliance:audit", args=[body_a["slug"], own])).status_code == 200
    assert db_state() == before


def test_d30_a_mediator_of_another_body_cannot_reach_a_case_through_its_own_documents(body_a, people):
    """The document id is not a key to the case: another body's mediator, with the id of A's record,
    gets a 404 whatever case it names."""
    client = Client()
    client.force_login(people["foreign_mediator"])
    with travel(NOW):
        for kind in ("record_full", "audit_trail", "body_report"):
            document = body_a["cases"]["proposed"][kind]
            response = client.get(reverse("mediation:document_download", args=[document.pk]))
            assert response.status_code == 404 and leaks(response, body_a) == []


# --- Anonymous visitors -------------------------------------------------------------------------------


def test_d30_anonymous_visitors_are_sent_to_the_login_page_from_every_url(body_a):
    client = Client()
    login = reverse("account_login")
    patterns = all_patterns()
    before = db_state()
    problems = []
    urls = [(name, reverse(name), {}) for name in NO_OBJECT]
    for name in TABLE:
        urls += [(name, url, data) for url, _kind, data in requests_for(name, patterns[name], body_a)]
    with travel(NOW):
        for name, url, data in urls:
            for method in ("get", "post"):
                response = getattr(client, method)(url, data if method == "post" else {})
                if response.status_code != 302 or not response["Location"].startswith(f"{login}?next="):
                    problems.append(
                        f"{method.upper()} {url}: {response.status_code} {response.get('Location')}"
                    )
                elif found := leaks(response, body_a, location=False):  # ?next= repeats the URL
                    problems.append(f"{method.upper()} {name} {url} shows body A's data: {found}")
    assert problems == []
    assert db_state() == before


def test_the_rendered_documents_are_what_they_claim(body_a):
    """The objects the table hands out are real: rendered PDFs with their fingerprints."""
    for kind in ("record_full", "record_consumer", "audit_trail", "body_report"):
        document = body_a["cases"]["proposed"][kind]
        data = Path(document.file.path).read_bytes()
        assert data.startswith(b"%PDF-") and hashlib.sha256(data).hexdigest() == document.sha256
