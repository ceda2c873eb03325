import os

import pytest
from django.db import connection

from odr.accounts.models import Role

from .factories import MediationBodyFactory, MembershipFactory, MerchantFactory, UserFactory


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need row locks and triggers; on SQLite they skip, saying why.
    .ci/run runs the whole suite again on PostgreSQL, where they run."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with DATABASE_URL=postgres://…; .ci/run does)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Let the throw-away test database accept TRUNCATE on the append-only tables.

    pytest-django's transactional tests empty every table with TRUNCATE after each test, which the
    BEFORE TRUNCATE triggers of odr/dbtriggers.py refuse unconditionally. They are disabled here, on
    the test database only (found in the catalogue, so a new one is covered too); the application
    never does. The test that proves the refusal re-enables the trigger inside its own transaction
    (ALTER TABLE is transactional on PostgreSQL: the rollback puts the test database back)."""
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
        assert name.startswith("test_"), name  # never the real database
        with connection.cursor() as cursor:
            for table, trigger in truncate_triggers(cursor):
                quote = connection.ops.quote_name
                cursor.execute(f"ALTER TABLE {quote(table)} DISABLE TRIGGER {quote(trigger)}")


def truncate_triggers(cursor) -> list[tuple[str, str]]:
    """(table, trigger) of every BEFORE TRUNCATE trigger of the application (tgtype bit 32: TRUNCATE)."""
    cursor.execute(
        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE NOT t.tgisinternal AND (t.tgtype & 32) <> 0 ORDER BY 1, 2"
    )
    return cursor.fetchall()


@pytest.fixture
def body(db):
    return MediationBodyFactory(name="Médiateur du e-commerce", slug="mediateur-ecommerce")


@pytest.fixture
def other_body(db):
    return MediationBodyFactory()


@pytest.fixture
def merchant(body):
    return MerchantFactory(legal_name="Librairie Lumière SAS", mediation_body=body)


@pytest.fixture
def other_merchant(body):
    return MerchantFactory(mediation_body=body)


@pytest.fixture
def consumer(db):
    return UserFactory(email="camille@example.test")


@pytest.fixture
def other_consumer(db):
    return UserFactory()


@pytest.fixture
def owner(merchant):
    return MembershipFactory(role=Role.MERCHANT_OWNER, merchant=merchant).user


@pytest.fixture
def agent(merchant):
    return MembershipFactory(role=Role.MERCHANT_AGENT, merchant=merchant).user


@pytest.fixture
def other_agent(other_merchant):
    return MembershipFactory(role=Role.MERCHANT_AGENT, merchant=other_merchant).user


@pytest.fixture
def mediator(body):
    return MembershipFactory(role=Role.MEDIATOR, mediation_body=body, merchant=None).user


@pytest.fixture
def second_mediator(body):
    return MembershipFactory(role=Role.MEDIATOR, mediation_body=body, merchant=None).user


@pytest.fixture
def foreign_mediator(other_body):
    return MembershipFactory(role=Role.MEDIATOR, mediation_body=other_body, merchant=None).user


@pytest.fixture
def compliance_officer(body):
    return MembershipFactory(role=Role.COMPLIANCE_OFFICER, mediation_body=body, merchant=None).user


@pytest.fixture(autouse=True)
def _default_language():
    """A request in English leaves English active in the thread: every test starts from the default."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(scope="session")
def moto_s3():
    """One S3 API server (moto's server mode) for the session; each test makes its own bucket."""
    from .s3 import CREDENTIALS, MotoServer

    saved = {key: os.environ.get(key) for key in CREDENTIALS}
    os.environ.update(CREDENTIALS)  # boto3 in this process (the platform's storage) reads them here
    server = MotoServer()
    server.start()
    yield server
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3_bucket(moto_s3, settings, tmp_path):
    """Uploads and generated documents in a fresh bucket, configured the way settings.py does it;
    MEDIA_ROOT points at a directory that must stay empty."""
    from .s3 import Bucket

    bucket = Bucket(moto_s3, prefix="media")
    settings.MEDIA_ROOT = tmp_path / "media-never-used"
    settings.STORAGES = {**settings.STORAGES, "default": bucket.storage_setting()}
    return bucket
