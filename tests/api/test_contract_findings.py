"""What the schemathesis run (.ci/schemathesis) found, pinned: every answer of the API matches the
OpenAPI document — status, content type and body — including for malformed requests."""

import base64

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse

from tests.helpers import file_complaint, open_case

from .test_auth import assert_problem


@pytest.fixture
def complaint(consumer, merchant):
    return file_complaint(consumer, merchant)


@pytest.fixture(scope="module")
def schema(django_db_blocker, tmp_path_factory):
    target = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--file", str(target))
    return yaml.safe_load(target.read_text())


@pytest.mark.django_db
def test_an_unreadable_body_is_a_400_with_errors_like_every_400(api, complaint):
    response = api.post(
        reverse("api:complaint-messages", args=[complaint.reference]),
        data=b"\xfc\x11",
        content_type="application/json",
    )
    body = assert_problem(response, 400, "parse_error")
    assert body["errors"] == [{"field": None, "code": "parse_error", "detail": body["detail"]}]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "cursor",
    ["not a cursor", "é", base64.b64encode(b"p=abc").decode(), base64.b64encode(b"o=-1").decode()],
    ids=["garbage", "non-ascii", "position-not-a-pk", "negative-offset"],
)
def test_a_bad_cursor_is_a_400_on_the_cursor_field(api, complaint, cursor):
    for url in (
        "/api/v1/complaints/",
        f"/api/v1/complaints/{complaint.reference}/messages/",
        "/api/v1/cases/",
    ):
        body = assert_problem(api.get(url, {"cursor": cursor}), 400, "validation_error")
        assert [(error["field"], error["code"]) for error in body["errors"]] == [("cursor", "invalid")]


@pytest.mark.django_db
def test_a_good_cursor_still_pages(api, consumer, merchant):
    references = [file_complaint(consumer, merchant).reference for _ in range(3)]
    first = api.get("/api/v1/complaints/", {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    assert [row["reference"] for row in first["results"] + second["results"]] == references[::-1]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["complaint-answer", "complaint-detail", "complaint-messages"])
def test_options_is_a_405_problem_not_a_500(api, complaint, name):
    response = api.options(reverse(f"api:{name}", args=[complaint.reference]))
    assert_problem(response, 405, "method_not_allowed")
    assert "OPTIONS" not in response["Allow"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/complaints/C-2026-000001/documents/null,null/download/",  # an id that is no number
        "/api/v1/complaints/C-2026-000001/offers/-5/respond/",
        "/api/v1/nothing-here/",
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_path_that_is_no_endpoint_is_a_404_problem(api, path, method):
    assert_problem(getattr(api, method)(path), 404, "not_found")


@pytest.mark.django_db
def test_a_post_without_its_final_slash_is_a_404_problem_not_a_redirect(api, complaint):
    url = f"/api/v1/complaints/{complaint.reference}/messages"
    response = api.post(url, {"body": "x"}, format="json", headers={"Accept-Language": "en"})
    assert "slash" in assert_problem(response, 404, "not_found")["detail"]


@pytest.mark.django_db
def test_a_get_without_its_final_slash_is_redirected_as_before(api, complaint):
    response = api.get(f"/api/v1/complaints/{complaint.reference}", {"x": "1"})
    assert response.status_code == 301
    assert response["Location"] == f"/api/v1/complaints/{complaint.reference}/?x=1"
    assert api.get("/api/v1/docs").status_code == 301
    assert_problem(api.get("/api/v1/nothing-here"), 404, "not_found")  # no endpoint with the slash either


@pytest.mark.django_db
def test_rejection_reason_is_null_unless_rejected(api, consumer, merchant, agent, mediator):
    case = open_case(consumer, merchant, agent, mediator)
    response = api.get(reverse("api:case-detail", args=[case.reference]))
    assert response.status_code == 200 and response.json()["rejection_reason"] is None


def test_nullable_enums_keep_null_out_of_the_shared_enum(schema):
    components = schema["components"]["schemas"]
    assert None not in components["AnswerDecisionEnum"]["enum"]  # also the answer's input
    answer_decision = components["Complaint"]["properties"]["answer_decision"]
    assert {"$ref": "#/components/schemas/NullEnum"} in answer_decision["oneOf"]
    rejection_reason = components["CaseDetail"]["properties"]["rejection_reason"]
    assert {"$ref": "#/components/schemas/NullEnum"} in rejection_reason["oneOf"]


def test_the_documented_statuses_and_types(schema):
    paths = schema["paths"]
    download = paths["/api/v1/complaints/{reference}/documents/{id}/download/"]["get"]["responses"]["200"]
    assert set(download["content"]) == {"application/pdf", "image/jpeg", "image/png", "text/plain"}
    for path in (
        "/api/v1/complaints/",
        "/api/v1/cases/",
        "/api/v1/complaints/{reference}/offers/",
        "/api/v1/cases/{reference}/messages/",
    ):
        assert "400" in paths[path]["get"]["responses"], path  # a bad cursor
    verify = paths["/api/v1/consent-receipts/verify/"]["post"]
    assert {"409", "422"} <= set(verify["responses"])  # Idempotency-Key in progress, reused
    header = next(p for p in verify["parameters"] if p["name"] == "Idempotency-Key")
    assert (header["schema"]["minLength"], header["schema"]["maxLength"]) == (1, 255)
