"""The OpenAPI document validates without warnings; Swagger UI and ReDoc are self-hosted and work
under the site's Content-Security-Policy (no inline script, nothing from another origin)."""

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import reverse


@pytest.mark.django_db
def test_spectacular_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


@pytest.fixture(scope="module")
def schema(django_db_blocker, tmp_path_factory):
    target = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--file", str(target))
    return yaml.safe_load(target.read_text())


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_operation_documents_its_errors_as_problem_details(schema):
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        for status in ("401", "429"):
            assert "application/problem+json" in responses[status]["content"], (path, method, status)
        if method == "post":
            for status in ("400", "403", "422"):
                if path.endswith("/verify/") and status in ("403", "422"):
                    continue
                assert status in responses, (path, method, status)
            assert any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])), path
        assert any(status.startswith("2") for status in responses), (path, method)


def test_list_filters_are_documented(schema):
    params = {p["name"] for p in schema["paths"]["/api/v1/complaints/"]["get"]["parameters"]}
    assert {"state", "created_after", "created_before", "due_before", "cursor", "page_size"} <= params


def assert_self_hosted(html: str):
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert "<style" not in html, "inline style element"
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith("/"), url


def assert_static_files_exist(html: str):
    found = re.findall(r'(?:src|href)="/static/([^"?]+)"', html)
    assert found
    for name in found:
        assert finders.find(name), name


@pytest.mark.django_db
def test_swagger_ui_is_self_hosted_and_csp_clean(client):
    response = client.get(reverse("api:swagger-ui"))
    assert response.status_code == 200
    html = response.content.decode()
    assert_self_hosted(html)
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    [script] = [s for s in re.findall(r'<script src="([^"]+)"', html) if "script" in s.split("?")[-1]]
    init = client.get(script.replace("&amp;", "&"))
    assert init.status_code == 200 and init["Content-Type"].startswith("application/javascript")
    body = init.content.decode()
    assert "SwaggerUIBundle" in body and '"validatorUrl": null' in body
    assert_static_files_exist(html)


@pytest.mark.django_db
def test_redoc_is_self_hosted_and_keeps_scripts_self_only(client):
    response = client.get(reverse("api:redoc"))
    assert response.status_code == 200
    html = response.content.decode()
    assert_self_hosted(html)
    assert "googleapis" not in html
    csp = response["Content-Security-Policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert script_src.strip() == "script-src 'self'"
    assert_static_files_exist(html)


@pytest.mark.django_db
def test_schema_endpoint_serves_openapi(client):
    response = client.get(reverse("api:schema"))
    assert response.status_code == 200
    assert b"openapi: 3." in response.content
