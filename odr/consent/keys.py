"""The Ed25519 keys that sign consent receipts (D32).

Each key is a private JWK in its own file, `<kid>.jwk.json` in `settings.ODR_SIGNING_KEYS_DIR`,
readable by its owner only (0600). The kid is the key's RFC 7638 thumbprint, so anyone holding the
public key can recompute it. The newest key signs; every key stays in the public set, so that a
receipt signed before a rotation keeps verifying. Retire a key by moving its file away — every receipt
it signed then stops verifying, which is the point if it leaked.
"""

import json
import os
import time
import warnings
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import OKPKey

ALGORITHM = "EdDSA"
SUFFIX = ".jwk.json"
# The members a public key is published with; anything else in the file (the private `d`, our `iat`)
# stays private.
PUBLIC_MEMBERS = ("kty", "crv", "x", "kid", "use", "alg")


def _directory() -> Path:
    return Path(settings.ODR_SIGNING_KEYS_DIR)


def signing_key_create() -> str:
    """Generate a key, store it (0600, written whole or not at all) and return its kid."""
    key = OKPKey.generate_key("Ed25519")
    kid = key.thumbprint()
    # `iat` (creation time) orders the keys: file times do not survive a copy or a backup restore.
    document = key.as_dict(private=True, kid=kid, use="sig", alg=ALGORITHM, iat=int(time.time()))
    directory = _directory()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = directory / f".{kid}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(document, file)
    os.replace(temporary, directory / f"{kid}{SUFFIX}")
    return kid


def _stored_keys() -> list[tuple[dict, OKPKey]]:
    """Every stored key, oldest first."""
    found = []
    for path in _directory().glob(f"*{SUFFIX}"):
        document = json.loads(path.read_text(encoding="utf-8"))
        key = OKPKey.import_key({name: document[name] for name in ("kty", "crv", "x", "d")})
        # A file renamed or edited by hand would otherwise sign under a kid that is not its own.
        if key.thumbprint() != document.get("kid") or path.name != f"{document['kid']}{SUFFIX}":
            raise ImproperlyConfigured(f"Signing key file {path} does not match its thumbprint")
        found.append((document.get("iat", 0), path.stat().st_mtime_ns, document, key))
    found.sort(key=lambda item: item[:2])
    return [(document, key) for _iat, _mtime, document, key in found]


def signing_key_current() -> tuple[str, OKPKey]:
    """(kid, private key) of the newest key.

    With no key at all, development and tests get one made on the spot; a production server refuses
    to start signing, since a key made silently on one web process would not be on the others.
    """
    keys = _stored_keys()
    if not keys:
        if not (settings.DEBUG or getattr(settings, "TESTING", False)):
            raise ImproperlyConfigured(
                f"No consent-receipt signing key in {_directory()}: "
                "run `python manage.py create_signing_key`."
            )
        signing_key_create()
        keys = _stored_keys()
    document, key = keys[-1]
    return document["kid"], key


def public_jwks() -> dict:
    """The public keys of every stored key, as a JWK Set (`{"keys": [...]}`), oldest first."""
    return {
        "keys": [
            {name: document[name] for name in PUBLIC_MEMBERS if name in document}
            for document, _key in _stored_keys()
        ]
    }


def _registry(max_payload: int | None) -> jws.JWSRegistry | None:
    """joserfc refuses payloads over 128,000 bytes by default (fine for a receipt); a larger document
    (an audit checkpoint lists thousands of chain heads) says how large it may be."""
    if max_payload is None:
        return None
    registry = jws.JWSRegistry(algorithms=[ALGORITHM])
    registry.max_payload_length = max_payload
    return registry


def jws_sign(payload: bytes, *, typ: str, max_payload: int | None = None) -> tuple[str, str]:
    """(compact JWS, kid) of `payload` signed with the current key, header {alg, kid, typ}.

    An explicit `typ` per kind of document (RFC 8725 §3.11): a consent receipt can never pass for an
    audit checkpoint, nor the reverse, although one key signs both."""
    kid, key = signing_key_current()
    header = {"alg": ALGORITHM, "kid": kid, "typ": typ}
    with warnings.catch_warnings():
        # EdDSA is RFC 9864's deprecated name for Ed25519, which every JOSE library still verifies.
        warnings.simplefilter("ignore", SecurityWarning)
        compact = jws.serialize_compact(
            header, payload, key, algorithms=[ALGORITHM], registry=_registry(max_payload)
        )
    return compact, kid


def jws_verify(compact: str, public_key: dict, *, max_payload: int | None = None) -> bytes:
    """The payload of `compact` if `public_key` (a public JWK) signed it; raises JoseError/ValueError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        signed = jws.deserialize_compact(
            compact, OKPKey.import_key(public_key), algorithms=[ALGORITHM], registry=_registry(max_payload)
        )
    return signed.payload
