"""The signing keys (D32): private files, a public key set, rotation."""

import json
import stat
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse
from joserfc.jwk import OKPKey

from odr.consent.keys import public_jwks, signing_key_create, signing_key_current


def test_d32_signing_key_is_a_private_jwk_file_readable_by_its_owner_only(signing_keys):
    kid = signing_key_create()
    path = signing_keys / f"{kid}.jwk.json"
    document = json.loads(path.read_text())

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert document["kty"] == "OKP" and document["crv"] == "Ed25519" and document["d"]
    assert document["kid"] == kid == OKPKey.import_key(document).thumbprint()
    assert [p.name for p in signing_keys.iterdir()] == [path.name]  # no temporary file left behind


def test_d32_newest_key_signs(signing_keys):
    first = signing_key_create()
    second = signing_key_create()

    assert signing_key_current()[0] == second != first


def test_d32_key_file_not_matching_its_thumbprint_is_refused(signing_keys):
    kid = signing_key_create()
    (signing_keys / f"{kid}.jwk.json").rename(signing_keys / "renamed.jwk.json")

    with pytest.raises(ImproperlyConfigured):
        signing_key_current()


def test_d32_development_and_tests_get_a_key_made_on_the_spot(signing_keys):
    kid, _key = signing_key_current()

    assert (signing_keys / f"{kid}.jwk.json").exists()


def test_d32_production_without_a_key_is_a_configuration_error(settings, signing_keys):
    settings.DEBUG = False
    settings.TESTING = False

    with pytest.raises(ImproperlyConfigured, match="create_signing_key"):
        signing_key_current()
    assert not signing_keys.exists()


def test_d32_create_signing_key_command_prints_the_kid(signing_keys):
    out = StringIO()
    call_command("create_signing_key", stdout=out, stderr=StringIO())

    kid = out.getvalue().strip()
    assert signing_key_current()[0] == kid
    assert (signing_keys / f"{kid}.jwk.json").exists()


def test_d32_jwks_lists_public_keys_only(client, signing_keys):
    kids = {signing_key_create(), signing_key_create()}
    response = client.get(reverse("consent:jwks"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "public" in response["Cache-Control"] and "max-age=300" in response["Cache-Control"]
    keys = response.json()["keys"]
    assert {key["kid"] for key in keys} == kids
    for key in keys:
        assert "d" not in key and "iat" not in key
        assert set(key) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert response.json() == public_jwks()
