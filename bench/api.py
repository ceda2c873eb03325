"""Benchmark: the REST API's complaint list against a plain view over the same rows, in one run.

Run on demand, never in the test suite:
    .venv/bin/python bench/api.py              (a scratch SQLite database in a temporary folder)
    .venv/bin/python bench/api.py --split      (also: the API's time split into its stages)
    .venv/bin/python bench/api.py --profile    (also: cProfile of 200 API calls, cumulative and own time)

Files 500 complaints for one merchant through the services (a third answered, one in twenty referred
to mediation), creates an API key, then calls the views below through Django's test client — the
whole middleware stack, no network — many times, each view in turn first, second, third…:
- api:   GET /api/v1/complaints/ with the key: the first page of 50 (authentication, throttle,
         filters, cursor pagination, serializers, JSON renderer);
- plain: the same 50 rows as `values()` + JsonResponse, no authentication (defined here);
- hello: a JsonResponse of a constant: the floor of a request through the middleware;
- api1:  the API with page_size=1: its cost without the rows.
With --split, DRF views defined here add the API's stages one by one: drf (an APIView, no
authentication), key (+ the API's authentication, permissions and throttle), query (+ the list's
queryset, 51 rows as the paginator fetches them), serialize (+ writing the rows as JSON data); the API adds
the filters, the pagination and the renderer's links.
Prints medians, the ratios api/plain and api/hello, and the target (api ≤ 2.0× plain).
DEBUG is off, as in production (no query log).
"""

import cProfile
import io
import itertools
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
COMPLAINTS = 500
PAGE = 50
WARMUP, ROUNDS = 30, 400
TARGET = 2.0
FIELDS = [
    "reference",
    "state",
    "category",
    "order_reference",
    "order_date",
    "amount_cents",
    "currency",
    "filed_at",
    "response_due_at",
    "answered_at",
    "answer_decision",
    "closed_at",
    "referral_window_ends_at",
]

urlpatterns: list = []  # this module is the benchmark's ROOT_URLCONF; filled in by main()


def plain_view(request):
    """The API's rows and fields, as directly as Django allows."""
    from django.http import JsonResponse

    from complaints.models import Complaint

    rows = list(
        Complaint.objects.filter(merchant_id=BENCH["merchant_id"])
        .order_by("-pk")
        .values(
            *FIELDS,
            "consumer__first_name",
            "consumer__last_name",
            "consumer__email",
            "mediation_case__reference",
        )[:PAGE]
    )
    results = []
    for row in rows:
        first, last, email = (
            row.pop("consumer__first_name"),
            row.pop("consumer__last_name"),
            row.pop("consumer__email"),
        )
        row["consumer"] = {"name": f"{first} {last}".strip() or email, "email": email}
        row["mediation_case_reference"] = row.pop("mediation_case__reference")
        row["answer_decision"] = row["answer_decision"] or None
        results.append(row)
    return JsonResponse({"next": None, "previous": None, "results": results})


def hello_view(request):
    from django.http import JsonResponse

    return JsonResponse({"hello": "world"})


BENCH: dict = {}


def split_views() -> dict:
    """The API's list, rebuilt stage by stage out of the same parts (imported once Django is set up)."""
    from rest_framework.permissions import AllowAny
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from complaints.api.serializers import complaint_rows_data
    from complaints.api.views import ComplaintListView
    from odr.api.base import ApiView

    def page(request):
        view = ComplaintListView()
        view.request = request
        return list(view.get_queryset().order_by("-pk")[: PAGE + 1])[:PAGE]

    class Drf(APIView):
        authentication_classes, permission_classes, throttle_classes = [], [AllowAny], []

        def get(self, request):
            return Response({"hello": "world"})

    class Key(ApiView):
        def get(self, request):
            return Response({"hello": "world"})

    class Query(ApiView):
        def get(self, request):
            return Response({"rows": len(page(request))})

    class Serialize(ApiView):
        def get(self, request):
            return Response({"results": complaint_rows_data(page(request))})

    return {"drf": Drf, "key": Key, "query": Query, "serialize": Serialize}


def seed():
    from complaints.services import complaint_answer
    from mediation.services import case_refer
    from odr.accounts.models import Role
    from odr.api.keys import api_key_create
    from odr.api.models import ApiKeyScope
    from odr.consent.keys import signing_key_create
    from tests.factories import MediationBodyFactory, MembershipFactory, MerchantFactory, UserFactory
    from tests.helpers import file_complaint

    signing_key_create()  # filing signs a consent receipt; with DEBUG off nothing makes the key for us
    merchant = MerchantFactory(mediation_body=MediationBodyFactory())
    owner = MembershipFactory(role=Role.MERCHANT_OWNER, merchant=merchant).user
    consumers = [UserFactory() for _ in range(50)]
    for index in range(COMPLAINTS):
        consumer = consumers[index % len(consumers)]
        complaint = file_complaint(consumer, merchant)
        if index % 20 == 0:
            complaint_answer(complaint=complaint, by=owner, decision="reject", text="Nous refusons.")
            case_refer(complaint=complaint, by=consumer, other_proceedings=False, acting_as_consumer=True)
        elif index % 3 == 0:
            complaint_answer(complaint=complaint, by=owner, decision="accept", text="Nous remboursons.")
    _key, full_key = api_key_create(merchant=merchant, by=owner, name="bench", scopes=ApiKeyScope.READ_WRITE)
    BENCH.update(merchant_id=merchant.pk, key=full_key)


def main() -> None:
    scratch = tempfile.mkdtemp(prefix="odr-bench-api-")
    os.environ.update(
        DATABASE_URL=f"sqlite:///{scratch}/bench.sqlite3",
        DEBUG="0",
        DJANGO_SETTINGS_MODULE="odr.settings",
        MEDIA_ROOT=f"{scratch}/media",
        ODR_SIGNING_KEYS_DIR=f"{scratch}/keys",
        ODR_BROKER_DIR=f"{scratch}/broker",
        STATIC_ROOT=f"{scratch}/static",
        ODR_API_RATE="1000000/minute",  # the throttle runs (its cache read and write), never refuses
    )
    os.environ.pop("REDIS_URL", None)
    os.makedirs(f"{scratch}/static")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext
    from django.urls import include, path

    started = time.perf_counter()
    seed()
    print(f"seeded {COMPLAINTS} complaints in {time.perf_counter() - started:.1f} s", flush=True)

    split = split_views() if "--split" in sys.argv else {}
    urlpatterns[:] = [
        path("bench/plain/", plain_view),
        path("bench/hello/", hello_view),
        *(path(f"bench/{name}/", view.as_view()) for name, view in split.items()),
        path("", include("odr.urls")),
    ]
    client = Client(headers={"Authorization": f"Bearer {BENCH['key']}"})

    def get(url, **params):
        return lambda: client.get(url, params)

    calls = {
        "api": get("/api/v1/complaints/"),
        "api1": get("/api/v1/complaints/", page_size=1),
        "plain": get("/bench/plain/"),
        "hello": get("/bench/hello/"),
        **{name: get(f"/bench/{name}/") for name in split},
    }
    with override_settings(ROOT_URLCONF=__name__):
        api, plain = calls["api"]().json(), calls["plain"]().json()
        assert [row["reference"] for row in api["results"]] == [row["reference"] for row in plain["results"]]
        assert len(api["results"]) == PAGE
        queries = {}
        for name, call in calls.items():
            with CaptureQueriesContext(connection) as captured:
                assert call().status_code == 200
            queries[name] = len(captured)

        times: dict[str, list[float]] = {name: [] for name in calls}
        names = list(calls)
        for round_ in range(WARMUP + ROUNDS):
            shift = round_ % len(names)
            order = names[shift:] + names[:shift]  # each view first, second, third… in turn
            for name in order:
                begin = time.perf_counter()
                calls[name]()
                elapsed = time.perf_counter() - begin
                if round_ >= WARMUP:
                    times[name].append(elapsed)

        if "--profile" in sys.argv:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(200):
                calls["api"]()
            profiler.disable()
            for order, lines in (("cumulative", 40), ("tottime", 25)):
                report = io.StringIO()
                pstats.Stats(profiler, stream=report).sort_stats(order).print_stats(lines)
                print(report.getvalue().replace(str(ROOT / ".venv/lib/python3.11/site-packages/"), ""))

    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"{'view':<10} {'median ms':>10} {'p90 ms':>8} {'queries':>8}")
    for name, values in times.items():
        p90 = statistics.quantiles(values, n=10)[-1] * 1000
        print(f"{name:<10} {medians[name]:>10.2f} {p90:>8.2f} {queries[name]:>8}")
    if split:
        stages = ["hello", *split, "api"]
        print("the API's time by stage (difference of medians):", end=" ")
        print(", ".join(f"{b} +{medians[b] - medians[a]:.2f} ms" for a, b in itertools.pairwise(stages)))
    ratio = medians["api"] / medians["plain"]
    print(
        f"api/plain: {ratio:.2f}× (target ≤ {TARGET:.1f}×: {'met' if ratio <= TARGET else 'NOT met'}); "
        f"api/hello: {medians['api'] / medians['hello']:.2f}×; plain/hello: "
        f"{medians['plain'] / medians['hello']:.2f}× ({ROUNDS} rounds, page of {PAGE} of {COMPLAINTS})"
    )


if __name__ == "__main__":
    main()
