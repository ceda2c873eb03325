"""The compliance officer's dashboard of a mediation body (issue 6; D12, D16–D18, D29, D36).

Public API:

- `year_period(body, year)`, `date_range_period(body, first_day, last_day)`: the period shown, in the
  body's time zone (D38).
- `dashboard_figures(body=, period=, now=)`: plain numbers, in three queries whatever the number of
  cases, read from the day buckets (`CaseFiguresDay`) that `mediation.case_figures` keeps: the period's
  days (the annual report's counts, `reports.case_count_aggregates`, summed and turned into figures by
  `reports.figures_from_counts`; the cases by state and month; the recorded breaches by kind and month),
  the days with breaches still open, and the breaches not recorded yet (live). `figures_as_of(body)`:
  the oldest change not counted yet (None: the figures are exact).
- `dashboard_figures_recount(body=, period=, now=)`: the same numbers recounted over the period's rows
  (`reports.period_report_figures` and grouped breach queries): the reference for tests and benchmarks.
- `dashboard_charts(figures)`: the charts as inline SVG, drawn by `mediation.reports`' chart functions
  (presentation attributes only: no `style=`, so the strict CSP of the web pages holds).
- `dashboard_tables(figures)`: the same numbers as labelled rows, for the tables beside the charts.
- `breaches_of(body, now=)`: the deadline breaches of the body's cases, with the case's reference and
  the moment the duty ended (`annotate_breaches`); the breaches page lists them.

Definitions:

- **Cases of the period**: the cases referred to the body in the period, as in the annual report, with
  their state today. The dashboard and the report of a year therefore give the same numbers.
- **Breach**: a deadline that puts a duty on someone (`odr.deadlines.models.DUTY_KINDS`: the merchant's
  answer D3, the admissibility decision D12, the outcome D16/D18) and was closed late (status
  `breached`: the duty was done late, or the sweep recorded the lapse), or is still pending past its
  due date (the sweep has not run yet: shown as not yet recorded, rather than hidden).
- **Whose breaches**: the admissibility and outcome deadlines of the body's cases; and the merchant's
  answer (D3) of the complaints that were referred to this body — the complaint is part of the case
  file its compliance officers may see (D30). A merchant's late answer to a complaint that never
  reached the body is not the body's business nor its data: it is left out.
- **When the duty ended**: the answer (or, unanswered, the referral) for D3; the admissibility decision
  (the saisine or the closure) for D12, or a request for documents, which stops that clock (D13); the
  closure for D16/D18. A breach whose duty has not ended is *still open*. Days late: calendar days from
  the due day to the day the duty ended (or today), in the body's time zone (D38).
- **Breaches per month**: by the month of their due date, for the due dates within the period. The
  counter of breaches still open is today's, whatever the period.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    Exists,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import formats
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from complaints.models import Complaint
from odr.accounts.models import MediationBody
from odr.deadlines.calendar import local_date
from odr.deadlines.models import Deadline, DeadlineKind, DeadlineStatus

from .models import (
    ACTIVE_CASE_STATES,
    CaseFiguresChange,
    CaseFiguresDay,
    CaseState,
    DocumentRequest,
    MediationCase,
)
from .reports import (
    BLUE,
    GREY,
    OUTCOME_SHORT_LABELS,
    OUTCOMES,
    RED,
    REFUSAL_SHORT_LABELS,
    bar_chart_svg,
    case_count_aggregates,
    duration_labels,
    durations_chart_svg,
    figures_from_counts,
    format_percent,
    hbar_chart_svg,
    month_labels,
    period_months,
    period_report_figures,
    refusals_chart_svg,
)

# The duties whose lapse is a breach (odr.deadlines DUTY_KINDS), in the order of a dispute.
BREACH_KINDS = (DeadlineKind.MERCHANT_RESPONSE, DeadlineKind.ADMISSIBILITY, DeadlineKind.OUTCOME)
BREACH_LABELS = {
    DeadlineKind.MERCHANT_RESPONSE: gettext_lazy("Merchant's answer to the complaint (D3)"),
    DeadlineKind.ADMISSIBILITY: gettext_lazy("Admissibility decision (D12)"),
    DeadlineKind.OUTCOME: gettext_lazy("Outcome of the mediation (D16, D18)"),
}
BREACH_SHORT_LABELS = {
    DeadlineKind.MERCHANT_RESPONSE: gettext_lazy("Merchant's answer (D3)"),
    DeadlineKind.ADMISSIBILITY: gettext_lazy("Admissibility (D12)"),
    DeadlineKind.OUTCOME: gettext_lazy("Outcome (D16, D18)"),
}
# The states of a case in the order of a dispute (the active ones, then the outcomes as the annual
# report orders them), with short labels for the charts and the tables' columns.
STATES = (*ACTIVE_CASE_STATES, *OUTCOMES)
STATE_SHORT_LABELS = {
    CaseState.RECEIVED: gettext_lazy("Awaiting admissibility"),
    CaseState.AWAITING_DOCUMENTS: gettext_lazy("Waiting for documents"),
    CaseState.OPEN: gettext_lazy("Mediation open"),
    CaseState.PROPOSAL_ISSUED: gettext_lazy("Proposal issued"),
    **OUTCOME_SHORT_LABELS,
}


# --- The period ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date  # included
    start: datetime  # the first day's midnight in the body's time zone
    end: datetime  # the midnight after the last day (excluded)
    year: int | None = None  # set when the period is a calendar year


def date_range_period(body: MediationBody, first_day: date, last_day: date) -> Period:
    """The local days from `first_day` to `last_day`, both included (D38: the body's time zone)."""
    tz = ZoneInfo(body.time_zone)
    return Period(
        first_day=first_day,
        last_day=last_day,
        start=datetime.combine(first_day, datetime.min.time(), tzinfo=tz),
        end=datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=tz),
    )


def year_period(body: MediationBody, year: int) -> Period:
    period = date_range_period(body, date(year, 1, 1), date(year, 12, 31))
    return Period(period.first_day, period.last_day, period.start, period.end, year=year)


# --- Breaches --------------------------------------------------------------------------------------


def breaches_of(body: MediationBody, *, now: datetime, few: bool = False) -> QuerySet[Deadline]:
    """The breaches of duties on `body`'s cases (see the module docstring): closed late, or pending
    past their due date. Deadlines carry the case reference, not the body: two subqueries find them.

    `few=True` when the query narrows the deadlines to a few (by an index: those not swept yet, one
    day's): each deadline's case is then looked up by its reference (EXISTS, row by row), instead of a
    set of all the body's case references built first (a scan of the body's cases: a million a year)."""
    cases = MediationCase.objects.filter(mediation_body=body)
    if few:
        own = Exists(cases.filter(reference=OuterRef("case_reference")))
        own_complaint = Exists(cases.filter(complaint__reference=OuterRef("case_reference")))
    else:
        own = Q(case_reference__in=cases.values("reference"))
        own_complaint = Q(case_reference__in=cases.values("complaint__reference"))
    return Deadline.objects.filter(
        Q(own, kind__in=[DeadlineKind.ADMISSIBILITY, DeadlineKind.OUTCOME])
        | Q(own_complaint, kind=DeadlineKind.MERCHANT_RESPONSE),
        Q(status=DeadlineStatus.BREACHED) | Q(status=DeadlineStatus.PENDING, due_at__lt=now),
    )


def annotate_breaches(breaches: QuerySet[Deadline]) -> QuerySet[Deadline]:
    """Add `case_ref` (the mediation case's reference, also for a complaint's D3 deadline) and
    `ended_at` (when the duty was done or ceased; None while it is still owed), in the same query."""
    case = MediationCase.objects.filter(reference=OuterRef("case_reference")).order_by()
    by_complaint = MediationCase.objects.filter(complaint__reference=OuterRef("case_reference")).order_by()
    complaint = Complaint.objects.filter(reference=OuterRef("case_reference")).order_by()
    # D13: documents asked for after the due date stop the admissibility clock (late): the decision is
    # no longer owed until the file is complete, when a new deadline starts. Only a received case can
    # ask, so such a request comes before any saisine or closure.
    documents_asked_late = (
        DocumentRequest.objects.filter(case=OuterRef("pk"), requested_at__gt=OuterRef(OuterRef("due_at")))
        .order_by("requested_at")
        .values("requested_at")
    )
    return breaches.annotate(
        case_ref=Case(
            When(
                kind=DeadlineKind.MERCHANT_RESPONSE,
                then=Subquery(by_complaint.values("reference")[:1]),
            ),
            default=F("case_reference"),
        ),
        ended_at=Case(
            When(status=DeadlineStatus.PENDING, then=Value(None)),
            When(
                kind=DeadlineKind.MERCHANT_RESPONSE,
                then=Subquery(
                    complaint.annotate(ended=Coalesce("answered_at", "mediation_case__referred_at")).values(
                        "ended"
                    )[:1]
                ),
            ),
            When(
                kind=DeadlineKind.ADMISSIBILITY,
                then=Subquery(
                    case.annotate(
                        ended=Coalesce(Subquery(documents_asked_late[:1]), "saisine_at", "closed_at")
                    ).values("ended")[:1]
                ),
            ),
            When(kind=DeadlineKind.OUTCOME, then=Subquery(case.values("closed_at")[:1])),
            default=Value(None),
            output_field=DateTimeField(),
        ),
    )


def days_late(due_at: datetime, ended_at: datetime | None, *, now: datetime, tz: ZoneInfo) -> int:
    """Calendar days from the due day to the day the duty ended, or to today (D38)."""
    return (local_date(ended_at or now, tz) - local_date(due_at, tz)).days


# --- The figures -----------------------------------------------------------------------------------


def dashboard_figures(*, body: MediationBody, period: Period, now: datetime) -> dict:
    """Plain numbers for the dashboard (see the module docstring), read from the day buckets kept by
    `case_figures` (three queries, whatever the number of cases): the period's days, the days with
    breaches still open, and the breaches not recorded yet (pending past their due date, counted live
    through the sweep's partial index). Equal to `dashboard_figures_recount` once the buckets are
    refreshed."""
    tz = ZoneInfo(body.time_zone)
    months = period_months(period.start, period.end, tz)
    index = {(month.year, month.month): position for position, month in enumerate(months)}
    counts = dict.fromkeys(case_count_aggregates(tz), 0)
    by_month = [0] * len(months)
    by_state_month = {str(state): [0] * len(months) for state in STATES}
    by_kind_month = {kind: [0] * len(months) for kind in BREACH_KINDS}
    for day, cases, breached in CaseFiguresDay.objects.filter(
        mediation_body=body, day__gte=period.first_day, day__lte=period.last_day
    ).values_list("day", "cases", "breached"):
        position = index[(day.year, day.month)]
        for key, value in cases.items():
            counts[key] += value
        by_month[position] += cases.get("received", 0)
        for state in by_state_month:
            by_state_month[state][position] += cases.get(f"state:{state}", 0)
        for kind, value in breached.items():
            by_kind_month[kind][position] += value
    # Breaches still open today, whatever the period: their duty has not ended.
    open_by_kind = dict.fromkeys(BREACH_KINDS, 0)
    for still_open in CaseFiguresDay.objects.filter(mediation_body=body, open_total__gt=0).values_list(
        "open_breaches", flat=True
    ):
        for kind, value in still_open.items():
            open_by_kind[kind] += value
    # Not recorded yet (the sweep has not run): no write marks them, time alone made them breaches.
    for kind, due_at in (
        breaches_of(body, now=now, few=True)
        .filter(status=DeadlineStatus.PENDING)
        .values_list("kind", "due_at")
    ):
        open_by_kind[kind] += 1
        if period.start <= due_at < period.end:
            local = due_at.astimezone(tz)
            by_kind_month[kind][index[(local.year, local.month)]] += 1
    figures = figures_from_counts(
        body=body, start=period.start, end=period.end, row=counts, by_month=by_month
    )
    return _dashboard_figures(figures, period, by_state_month, by_kind_month, open_by_kind)


def figures_as_of(body: MediationBody) -> datetime | None:
    """The moment up to which the dashboard's figures are exact: the oldest change not counted yet
    (the worker counts it within a minute or so); None when every change is counted."""
    return CaseFiguresChange.objects.filter(mediation_body=body).aggregate(oldest=Min("created_at"))["oldest"]


def dashboard_figures_recount(*, body: MediationBody, period: Period, now: datetime) -> dict:
    """`dashboard_figures` recounted over the period's cases and deadlines (five queries, each
    scanning the period): the reference the day buckets are tested and benchmarked against."""
    tz = ZoneInfo(body.time_zone)
    figures = period_report_figures(body=body, start=period.start, end=period.end)  # two queries
    months = [date.fromisoformat(month) for month in figures["months"]]
    index = {(month.year, month.month): position for position, month in enumerate(months)}

    def month_of(moment: datetime) -> int:
        local = moment.astimezone(tz)
        return index[(local.year, local.month)]

    # Cases by state and month: one grouped row per (month, state), never the cases.
    by_state_month = {str(state): [0] * len(months) for state in STATES}
    cases = MediationCase.objects.filter(
        mediation_body=body, referred_at__gte=period.start, referred_at__lt=period.end
    )
    for row in (
        cases.annotate(month=TruncMonth("referred_at", tzinfo=tz))
        .values("month", "state")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        by_state_month[row["state"]][month_of(row["month"])] = row["n"]

    # Breaches by kind and month of their due date, within the period.
    breaches = breaches_of(body, now=now)
    by_kind_month = {kind: [0] * len(months) for kind in BREACH_KINDS}
    for row in (
        breaches.filter(due_at__gte=period.start, due_at__lt=period.end)
        .annotate(month=TruncMonth("due_at", tzinfo=tz))
        .values("month", "kind")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        by_kind_month[row["kind"]][month_of(row["month"])] = row["n"]
    # Breaches still open today, whatever the period: their duty has not ended.
    still_open = Q(ended_at__isnull=True)
    counts = annotate_breaches(breaches).aggregate(
        **{f"open:{kind}": Count("pk", filter=still_open & Q(kind=kind)) for kind in BREACH_KINDS},
    )

    open_by_kind = {kind: counts[f"open:{kind}"] for kind in BREACH_KINDS}
    return _dashboard_figures(figures, period, by_state_month, by_kind_month, open_by_kind)


def _dashboard_figures(
    figures: dict, period: Period, by_state_month: dict, by_kind_month: dict, open_by_kind: dict
) -> dict:
    by_state = {state: sum(counts_) for state, counts_ in by_state_month.items()}
    compliance = figures["compliance"]
    return {
        **figures,
        "period": {
            "first_day": period.first_day.isoformat(),
            "last_day": period.last_day.isoformat(),
            "year": period.year,
        },
        "by_state": by_state,
        "by_state_month": by_state_month,
        "compliance": {
            **compliance,
            "unknown": compliance["settled"] - compliance["known"],
        },
        "breaches": {
            "by_kind_month": by_kind_month,
            "by_kind": {kind: sum(values) for kind, values in by_kind_month.items()},
            "total": sum(sum(values) for values in by_kind_month.values()),
            "open": sum(open_by_kind.values()),
            "open_by_kind": open_by_kind,
        },
    }


# --- Labels, charts and tables ---------------------------------------------------------------------


def _months(figures: dict) -> list[date]:
    return [date.fromisoformat(month) for month in figures["months"]]


def chart_month_labels(figures: dict) -> list[str]:
    """Short month names under the bars; with the year when the period spans several years."""
    months = _months(figures)
    if figures["period"]["year"] is not None:
        return month_labels(figures["period"]["year"])
    if len({month.year for month in months}) == 1:
        return [formats.date_format(month, "N") for month in months]
    return [formats.date_format(month, "M y") for month in months]


def table_month_labels(figures: dict) -> list[str]:
    return [formats.date_format(month, "YEAR_MONTH_FORMAT") for month in _months(figures)]


def _number(value: int) -> str:
    return formats.number_format(value, 0)


def _percent_text(count: int, whole: int) -> str:
    return format_percent(round(100 * count / whole, 1) if whole else None)


def _shown(count: int, whole: int) -> str:
    return f"{_number(count)} ({_percent_text(count, whole)})"


def _describe(pairs) -> str:
    """A chart's <desc>: its numbers in words, for whoever cannot see the bars."""
    return "; ".join(f"{label}: {value}" for label, value in pairs)


def dashboard_charts(figures: dict) -> dict[str, SafeString]:
    """The dashboard's charts as inline SVG, in the active language; `dashboard_tables` gives the same
    numbers as text."""
    received = figures["received"]
    state_rows = [
        (str(STATE_SHORT_LABELS[state]), count, _shown(count, received))
        for state, count in figures["by_state"].items()
    ]
    month_values = figures["by_month"]
    breaches = figures["breaches"]
    highest_breaches = max(
        (max(values, default=0) for values in breaches["by_kind_month"].values()), default=0
    )
    compliance = figures["compliance"]
    compliance_rows = [
        (_("Complied"), compliance["complied"], _shown(compliance["complied"], compliance["settled"])),
        (
            _("Did not comply"),
            compliance["not_complied"],
            _shown(compliance["not_complied"], compliance["settled"]),
        ),
        (_("Not known yet"), compliance["unknown"], _shown(compliance["unknown"], compliance["settled"])),
    ]
    labels = chart_month_labels(figures)
    long_labels = table_month_labels(figures)
    return {
        "states": hbar_chart_svg(
            chart_id="chart-states",
            title=_("Cases of the period by state today (share of the cases received)"),
            rows=state_rows,
            colours=[GREY if state in ACTIVE_CASE_STATES else BLUE for state in figures["by_state"]],
            description=_describe((label, shown) for label, _value, shown in state_rows),
        ),
        "months": bar_chart_svg(
            chart_id="chart-months",
            title=_("Cases received per month"),
            labels=labels,
            values=month_values,
            description=_describe(zip(long_labels, month_values, strict=True)),
        ),
        "refusals": refusals_chart_svg(
            figures,
            description=_describe(
                (REFUSAL_SHORT_LABELS[reason], share["count"])
                for reason, share in figures["refused"]["by_reason"].items()
            ),
        ),
        "durations": durations_chart_svg(
            figures,
            description=_describe(
                zip(duration_labels(), figures["duration"]["buckets"].values(), strict=True)
            ),
        ),
        "breaches": [
            (
                BREACH_LABELS[kind],
                bar_chart_svg(
                    chart_id=f"chart-breaches-{kind}",
                    title=_("Breaches per month: %(kind)s") % {"kind": BREACH_LABELS[kind]},
                    labels=labels,
                    values=values,
                    colours=[RED] * len(values),
                    highest=highest_breaches,  # one scale for the three charts
                    height=110,
                    description=_describe(zip(long_labels, values, strict=True)),
                ),
            )
            for kind, values in breaches["by_kind_month"].items()
        ],
        "compliance": hbar_chart_svg(
            chart_id="chart-compliance",
            title=_("Settled cases: did the merchant comply with the outcome? (D29)"),
            rows=compliance_rows,
            colours=[BLUE, RED, GREY],
            description=_describe((label, shown) for label, _value, shown in compliance_rows),
        ),
    }


def dashboard_tables(figures: dict) -> dict:
    """Labelled rows with the charts' numbers (the tables beside the charts)."""
    received = figures["received"]
    months = table_month_labels(figures)
    refused = figures["refused"]
    breaches = figures["breaches"]
    return {
        "states": [
            (state, STATE_SHORT_LABELS[state], count, _percent_text(count, received))
            for state, count in figures["by_state"].items()
        ],
        "state_columns": [STATE_SHORT_LABELS[state] for state in STATES],
        "months": [
            (
                label,
                figures["by_month"][position],
                [figures["by_state_month"][state][position] for state in STATES],
            )
            for position, label in enumerate(months)
        ],
        "reasons": [
            (reason, REFUSAL_SHORT_LABELS[reason], share["count"], format_percent(share["percent"]))
            for reason, share in refused["by_reason"].items()
        ],
        "durations": [
            (key, label, count)
            for label, (key, count) in zip(
                duration_labels(), figures["duration"]["buckets"].items(), strict=True
            )
        ],
        "breach_columns": [BREACH_SHORT_LABELS[kind] for kind in BREACH_KINDS],
        "breach_months": [
            (label, [breaches["by_kind_month"][kind][position] for kind in BREACH_KINDS])
            for position, label in enumerate(months)
        ],
        "breach_totals": [(kind, breaches["by_kind"][kind]) for kind in BREACH_KINDS],
        "breach_open": [(kind, breaches["open_by_kind"][kind]) for kind in BREACH_KINDS],
        "percent": {
            "refused": format_percent(refused["percent"]),
            "compliance": format_percent(figures["compliance"]["percent"]),
        },
        "average_days": (
            None
            if figures["duration"]["average_days"] is None
            else formats.number_format(figures["duration"]["average_days"], 1)
        ),
    }
