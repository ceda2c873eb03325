"""The compliance dashboard's aggregate: figures per mediation body and local day (issue 14).

The dashboard (mediation/dashboard.py) must not recount a year of cases on every request (1,000,000
cases a year at the design volume). It reads `CaseFiguresDay` rows instead: per body and local day
(D38, the body's time zone), the counts of the cases referred that day and the recorded breaches due
that day. At most 366 rows a year per body, whatever the number of cases; any date range is a set of
whole local days, so `date_range_period` works unchanged.

Mechanism (the worker refreshes only the buckets that changed; not deltas kept by the services):

- **What a case contributes** is one rule: `reports.case_count_aggregates`, the very aggregates the
  annual report recounts over its year. A bucket is not incremented or decremented: it is *recounted*
  with those aggregates, grouped by day, over the cases of that day only. A service path that forgets
  a decrement cannot drift the figures; a bucket is always a recount of its day.
- **What changed** is a `CaseFiguresChange` row (the case's pk), written by `services._audit`, the one
  helper through which every mediation service records its audit event on the case, inside that
  service's transaction. Rows are appended (never updated), so concurrent services never wait on each
  other for them. Whatever changes a case's counted attributes (state, saisine, closure, proposals and
  answers, extensions, compliance, document requests, deadlines closed late) goes through a service
  that audits it.
- **The refresh** (`case_figures_refresh`, Celery beat every minute, `mediation.refresh_case_figures`)
  takes the change rows in bounded batches, finds the buckets they touch (the case's referral day; the
  due days of its recorded breaches) and recounts just those days: work proportional to what changed,
  never to the year. One refresh at a time (a PostgreSQL advisory lock): a slower run can never write
  an older count over a newer one. A change committed after a batch was read waits for the next run.
- **Freshness**: the dashboard says "figures as of HH:MM" (the oldest change not yet counted) when
  changes are waiting; otherwise its figures are exact.
- **Breaches** (`dashboard.breaches_of`): those the sweep or a late service recorded (status
  `breached`) are counted in the bucket of their due day, with those whose duty has not ended (still
  open, `dashboard.annotate_breaches`). Those not recorded yet (pending past their due date: the sweep
  has not run) cannot be bucketed by a write, since only time passed: the dashboard counts them live,
  through the sweep's partial index on pending due dates (the deadlines due and not yet swept: a
  handful, not the year).
- **Backfill and repair**: `manage.py case_figures --rebuild` (`case_figures_rebuild`) recounts every
  day of a body from its cases and breaches, a day range at a time; run it once after the migration
  that adds the tables, and after changing a body's time zone (the buckets are local days).
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q
from django.db.models.functions import TruncDate

from odr import clock
from odr.accounts.models import MediationBody
from odr.deadlines.calendar import local_date
from odr.deadlines.models import Deadline, DeadlineStatus

from .dashboard import BREACH_KINDS, annotate_breaches, breaches_of
from .models import CaseFiguresChange, CaseFiguresDay, MediationCase
from .reports import case_count_aggregates, plain_counts

log = logging.getLogger(__name__)

# One refresh at a time across the installation (pg_try_advisory_xact_lock's key: "figures").
ADVISORY_LOCK_KEY = 0x66696775726573
# Days recounted by one grouped query (an OR of day ranges, each through the (body, referred_at) index).
DAYS_PER_QUERY = 62


def case_figures_changed(case: MediationCase) -> None:
    """Record that `case`'s figures may have changed. Called inside the service's transaction."""
    CaseFiguresChange.objects.create(
        case_pk=case.pk, mediation_body_id=case.mediation_body_id, created_at=clock.now()
    )


# --- Recounting days -------------------------------------------------------------------------------


def _day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)


def _within(field: str, days: list[date], tz: ZoneInfo) -> Q:
    """`field` falls on one of `days` (local days of `tz`): an OR of ranges, so that indexes serve."""
    condition = Q()
    for day in days:
        start, end = _day_bounds(day, tz)
        condition |= Q(**{f"{field}__gte": start, f"{field}__lt": end})
    return condition


def _recount(body: MediationBody, days: list[date], *, now: datetime) -> int:
    """Recount the buckets of `body` for `days` and replace them. Returns the number of rows written."""
    tz = ZoneInfo(body.time_zone)
    _plan_for_a_few_days()
    buckets: dict[date, dict] = {}

    def bucket(day: date) -> dict:
        return buckets.setdefault(day, {"cases": {}, "breached": {}, "open_breaches": {}})

    days = sorted(set(days))
    for first in range(0, len(days), DAYS_PER_QUERY):
        chunk = days[first : first + DAYS_PER_QUERY]
        cases = MediationCase.objects.filter(_within("referred_at", chunk, tz), mediation_body=body)
        for row in (
            cases.annotate(day=TruncDate("referred_at", tzinfo=tz))
            .values("day")
            .annotate(**case_count_aggregates(tz, cases))
            .order_by()
        ):
            day = row.pop("day")
            bucket(day)["cases"] = plain_counts(row)
        recorded = breaches_of(body, now=now, few=True).filter(
            _within("due_at", chunk, tz), status=DeadlineStatus.BREACHED
        )
        for row in (
            annotate_breaches(recorded)
            .annotate(day=TruncDate("due_at", tzinfo=tz))
            .values("day", "kind")
            .annotate(n=Count("pk"), still_open=Count("pk", filter=Q(ended_at__isnull=True)))
            .order_by()
        ):
            entry = bucket(row["day"])
            entry["breached"][row["kind"]] = row["n"]
            if row["still_open"]:
                entry["open_breaches"][row["kind"]] = row["still_open"]

    CaseFiguresDay.objects.filter(mediation_body=body, day__in=days).delete()
    CaseFiguresDay.objects.bulk_create(
        CaseFiguresDay(
            mediation_body=body,
            day=day,
            cases=entry["cases"],
            breached=entry["breached"],
            open_breaches=entry["open_breaches"],
            open_total=sum(entry["open_breaches"].values()),
            refreshed_at=now,
        )
        for day, entry in sorted(buckets.items())
    )
    return len(buckets)


def _days_touched(case_pks: set[int]) -> dict[int, set[date]]:
    """The buckets (body pk → local days) that the cases count in: the referral day of each, and the
    due day of each of its recorded breaches (their due date does not move once recorded)."""
    touched: dict[int, set[date]] = defaultdict(set)
    owner: dict[str, tuple[int, ZoneInfo]] = {}
    for body_pk, time_zone, referred_at, reference, complaint_reference in MediationCase.objects.filter(
        pk__in=case_pks
    ).values_list(
        "mediation_body_id", "mediation_body__time_zone", "referred_at", "reference", "complaint__reference"
    ):
        tz = ZoneInfo(time_zone)
        touched[body_pk].add(local_date(referred_at, tz))
        owner[reference] = owner[complaint_reference] = (body_pk, tz)
    if owner:
        for case_reference, due_at in Deadline.objects.filter(
            case_reference__in=list(owner), kind__in=BREACH_KINDS, status=DeadlineStatus.BREACHED
        ).values_list("case_reference", "due_at"):
            body_pk, tz = owner[case_reference]
            touched[body_pk].add(local_date(due_at, tz))
    return touched


def _one_refresh_at_a_time() -> bool:
    """Inside a transaction: True if this run may refresh (always on SQLite, whose writes are serial)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
        return cursor.fetchone()[0]


def _plan_for_a_few_days() -> None:
    """A day's recount reads ~3,000 cases and their proposals through indexes. Measured at 1,000,000
    cases (bench/dashboard.py): the planner's cost of the grouped aggregate turned JIT on (1.1 s of
    1.5 s compiling), and it read every proposal sequentially to hash a day's few hundred. For the
    current transaction only: no JIT, no sequential scan where an index serves."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('jit', 'off', true), set_config('enable_seqscan', 'off', true)")


@dataclass
class RefreshReport:
    changes: int = 0
    days: int = 0
    busy: bool = False  # another refresh was running: this one did nothing
    left: bool = False  # stopped after max_batches with changes still waiting
    rebuilt: str = ""  # the slug of a body never counted before, rebuilt by this run


def bodies_never_counted():
    """Bodies with cases but no bucket and no change waiting: existing data right after the migration
    that created the buckets (which cannot run today's counting code itself), or cases loaded in bulk.
    Three index lookups per body."""
    return MediationBody.objects.filter(
        Exists(MediationCase.objects.filter(mediation_body=OuterRef("pk"))),
        ~Exists(CaseFiguresDay.objects.filter(mediation_body=OuterRef("pk"))),
        # A new body's first cases have their change rows: the usual recount of their days does.
        ~Exists(CaseFiguresChange.objects.filter(mediation_body=OuterRef("pk"))),
    ).order_by("pk")


def case_figures_refresh(*, batch_size: int = 500, max_batches: int = 20) -> RefreshReport:
    """Recount the buckets of the cases changed since the last run, `batch_size` changes a
    transaction, at most `max_batches` (a backlog drains over the next runs).

    A body that was never counted is rebuilt first, one body a run, so that an upgrade needs no
    manual step: the dashboard fills itself within minutes of the migration."""
    report = RefreshReport()
    if body := bodies_never_counted().first():
        report.days += case_figures_rebuild(body=body)
        report.rebuilt = body.slug
    for _batch in range(max_batches):
        with transaction.atomic():
            if not _one_refresh_at_a_time():
                report.busy = True
                break
            changes = list(CaseFiguresChange.objects.order_by("id").values_list("id", "case_pk")[:batch_size])
            if not changes:
                break
            now = clock.now()
            touched = _days_touched({case_pk for _id, case_pk in changes})
            bodies = MediationBody.objects.in_bulk(list(touched))
            for body_pk, days in touched.items():
                _recount(bodies[body_pk], sorted(days), now=now)
                report.days += len(days)
            # Exactly the rows read: a lower id committed since then is not counted yet.
            CaseFiguresChange.objects.filter(id__in=[change_id for change_id, _pk in changes]).delete()
            report.changes += len(changes)
    else:
        report.left = CaseFiguresChange.objects.exists()
    log.info(
        "case figures refreshed",
        extra={
            "changes": report.changes,
            "days": report.days,
            "busy": report.busy,
            "left": report.left,
            "rebuilt": report.rebuilt,
        },
    )
    return report


def case_figures_rebuild(*, body: MediationBody, days_per_transaction: int = 31) -> int:
    """Recount every day of `body` that has cases or recorded breaches (backfill, repair, a new time
    zone), `days_per_transaction` days a transaction. Returns the number of days recounted."""
    tz = ZoneInfo(body.time_zone)
    now = clock.now()
    cases = MediationCase.objects.filter(mediation_body=body).aggregate(
        first=Min("referred_at"), last=Max("referred_at")
    )
    breaches = (
        breaches_of(body, now=now)
        .filter(status=DeadlineStatus.BREACHED)
        .aggregate(first=Min("due_at"), last=Max("due_at"))
    )
    moments = [moment for moment in (*cases.values(), *breaches.values()) if moment is not None]
    with transaction.atomic():
        if not _one_refresh_at_a_time():
            raise RuntimeError("a refresh of the case figures is running; try again")
        # Days outside the span of the data (say, left by an old time zone) are dropped.
        CaseFiguresDay.objects.filter(mediation_body=body).delete()
    if not moments:
        return 0
    first, last = local_date(min(moments), tz), local_date(max(moments), tz)
    day, recounted = first, 0
    while day <= last:
        days = [day + timedelta(days=offset) for offset in range(days_per_transaction)]
        days = [each for each in days if each <= last]
        with transaction.atomic():
            if not _one_refresh_at_a_time():
                raise RuntimeError("a refresh of the case figures is running; try again")
            _recount(body, days, now=now)
        recounted += len(days)
        day = days[-1] + timedelta(days=1)
    return recounted
