"""Every error is RFC 9457 problem details; domain refusals keep their translated message."""

import pytest
from django.test import override_settings
from django.urls import reverse

from complaints.services import complaint_answer
from tests.helpers import file_complaint

from .test_auth import assert_problem


@pytest.fixture
def complaint(consumer, merchant):
    return file_complaint(consumer, merchant)


@pytest.mark.django_db
def test_404_for_a_missing_complaint(api):
    assert_problem(api.get(reverse("api:complaint-detail", args=["C-2099-999999"])), 404, "not_found")


@pytest.mark.django_db
def test_405(api, complaint):
    response = api.delete(reverse("api:complaint-detail", args=[complaint.reference]))
    assert_problem(response, 405, "method_not_allowed")


@pytest.mark.django_db
def test_415_for_a_form_body(api, complaint):
    response = api.post(
        reverse("api:complaint-messages", args=[complaint.reference]), {"body": "x"}, format="multipart"
    )
    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.django_db
def test_400_for_malformed_json(api, complaint):
    response = api.post(
        reverse("api:complaint-messages", args=[complaint.reference]),
        data="{not json",
        content_type="application/json",
    )
    assert_problem(response, 400, "parse_error")


@pytest.mark.django_db
def test_409_detail_is_the_domain_message_in_the_requested_language(api, complaint, agent):
    complaint_answer(complaint=complaint, by=agent, decision="reject", text="Non.")
    url = reverse("api:complaint-answer", args=[complaint.reference])
    body = {"decision": "reject", "text": "Encore"}
    english = api.post(url, body, format="json", headers={"Accept-Language": "en"})
    french = api.post(url, body, format="json", headers={"Accept-Language": "fr"})
    assert assert_problem(english, 409, "transition_refused")["detail"] == (
        "This complaint has already been answered or is closed."
    )
    french_detail = assert_problem(french, 409, "transition_refused")["detail"]
    assert french_detail != english.json()["detail"]
    assert english.json()["title"] == french.json()["title"]  # titles are fixed English


@pytest.mark.django_db
def test_429_per_key_with_retry_after(api, read_api, settings):
    from rest_framework.settings import api_settings

    from odr.api.throttling import ApiKeyRateThrottle

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "api_key": "2/minute"}
    original = ApiKeyRateThrottle.THROTTLE_RATES
    ApiKeyRateThrottle.THROTTLE_RATES = rates
    try:
        url = reverse("api:complaint-list")
        assert api.get(url).status_code == 200
        assert api.get(url).status_code == 200
        response = api.get(url)
        assert_problem(response, 429, "throttled")
        assert int(response["Retry-After"]) > 0
        assert read_api.get(url).status_code == 200  # another key has its own budget
    finally:
        ApiKeyRateThrottle.THROTTLE_RATES = original


@override_settings(DEBUG=False)
@pytest.mark.django_db
def test_validation_errors_list_each_field(api, complaint):
    response = api.post(
        reverse("api:complaint-offers", args=[complaint.reference]),
        {"amount_cents": -5, "responds_to": "x"},
        format="json",
    )
    body = assert_problem(response, 400, "validation_error")
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("terms", "required"),
        ("amount_cents", "min_value"),
        ("responds_to", "invalid"),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "scope_detail", "validation_detail"),
    [
        ("fr", "Cette clé d'API ne permet que la lecture", "Des champs manquent ou ne sont pas valides"),
        ("en", "This API key is read-only", "Some fields are missing or not valid"),
    ],
)
def test_the_platform_s_own_details_follow_accept_language(
    api, read_api, complaint, language, scope_detail, validation_detail
):
    """Not only the domain's messages: the scope refusal and the validation summary too."""
    url = reverse("api:complaint-answer", args=[complaint.reference])
    refused = read_api.post(
        url, {"decision": "accept", "text": "Oui."}, format="json", HTTP_ACCEPT_LANGUAGE=language
    )
    assert assert_problem(refused, 403, "insufficient_scope")["detail"].startswith(scope_detail)
    invalid = api.post(url, {"decision": "maybe"}, format="json", HTTP_ACCEPT_LANGUAGE=language)
    assert assert_problem(invalid, 400, "validation_error")["detail"].startswith(validation_detail)
