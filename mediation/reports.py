"""The annual activity report of a mediation body (D36; C. consom. R614-2 1°–8°; Dir. 2013/11/EU art. 7(2)).

Public API:

- `report_period(body, year)`: the report's period, [1 January, next 1 January) in the body's time zone.
- `annual_report_figures(body=, year=)`: the figures, as plain numbers (JSON-ready), computed in the
  database with a constant number of queries (two) whatever the number of cases.
- `period_report_figures(body=, start=, end=)`: the same figures for any period [start, end) (the
  compliance dashboard's date range), with `by_month` over the period's months (`months`).
- `annual_report_charts(figures)`: the four charts as inline SVG (escaped, accessible), drawn by
  `bar_chart_svg(...)` and `hbar_chart_svg(...)`; the refusals and durations charts alone with
  `refusals_chart_svg(figures)` and `durations_chart_svg(figures)` (the dashboard shows them too).
- `annual_report_spec(document)`: the `DocumentSpec` of a `DocumentKind.ANNUAL_REPORT` document, whose
  `parameters` are `{"body": <slug>, "year": <int>}`; registered in `MediationConfig.ready()`.

Definitions (repeated in the report's "About these figures" section):

- **Period.** The cases whose referral (`MediationCase.referred_at`) falls in the calendar year in the
  body's time zone (D38). Their outcomes are those known when the report is generated: a case referred
  in December and closed in February counts in the year of its referral, with its outcome.
- **Duration** (R614-2 5°, D16): for a case closed after a saisine (settled, no agreement, discontinued
  or merchant declined after the notice of saisine), the number of calendar days between the local
  date of the saisine notice and the local date of closure, in the body's time zone. It is counted like
  the 90-day limit of R612-5 (D38): a case closed on the 90th day after the saisine day took 90 days and
  was on time; more than 90 is past the legal limit (lawful only if the deadline was extended, D17).
- **Cross-border**: the consumer's country (`Complaint.consumer_country`) differs from the merchant's
  (`Merchant.country`).
- **Outcomes in favour of each side** (R614-2 8°, only for a mediator paid by a single merchant): the
  platform does not know what a proposal gives to whom, so the figure is an approximation, read from the
  parties' answers to the mediator's proposal, that the mediator must review before publishing:

  - a proposal both parties accepted (settled) is an amicable settlement, counted for neither side;
  - no agreement because the merchant refused (or was deemed to refuse, D25) while the consumer did not
    refuse: counted as a proposal in favour of the consumer;
  - no agreement because the consumer refused while the merchant did not: in favour of the merchant;
  - both refused: undetermined.

  The base is the proposals that reached an outcome (settled + no agreement). The share settled amicably
  is settled / cases closed after a saisine. A withdrawal after an agreement found outside the platform
  is not counted as amicable: the platform cannot know it.
"""

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncMonth
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThanOrEqual
from django.utils import formats, translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from complaints.models import Category, PartySide
from odr import clock
from odr.accounts.models import MediationBody
from odr.documents.models import GeneratedDocument
from odr.documents.rendering import PdfAttachment
from odr.documents.services import DocumentSpec

from .models import (
    ACTIVE_CASE_STATES,
    CaseState,
    DeadlineExtension,
    MediationCase,
    Proposal,
    ProposalResponse,
    RefusalReason,
    ResponseDecision,
)

TEMPLATE = "pdf/annual_report.html"
ATTACHMENT_NAME = "figures.json"

# R612-5 (D16): the outcome is due 90 calendar days after the saisine notice.
OUTCOME_LIMIT_DAYS = 90
# Duration buckets, in calendar days (key, lowest, highest; None: no upper bound).
DURATION_BUCKETS = (("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("over_90", 91, None))
# The outcomes of a closed case, in the order the report shows them.
OUTCOMES = (
    CaseState.SETTLED,
    CaseState.NO_AGREEMENT,
    CaseState.DISCONTINUED,
    CaseState.MERCHANT_DECLINED,
    CaseState.REJECTED,
)
TOP_CATEGORIES = 3


def report_period(body: MediationBody, year: int) -> tuple[datetime, datetime]:
    """[1 January `year`, 1 January `year + 1`) in the body's time zone (D38)."""
    tz = ZoneInfo(body.time_zone)
    return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _share(part: int, whole: int) -> dict:
    return {"count": part, "percent": _percent(part, whole)}


def period_months(start: datetime, end: datetime, tz: ZoneInfo) -> list[date]:
    """The first day of each local month that [start, end) touches, in order (12 for a year)."""
    first = start.astimezone(tz).date().replace(day=1)
    last = (end.astimezone(tz) - timedelta(microseconds=1)).date()
    months = []
    while first <= last:
        months.append(first)
        first = (first + timedelta(days=32)).replace(day=1)
    return months


def annual_report_figures(*, body: MediationBody, year: int) -> dict:
    """The figures of R614-2 1°–8° for the cases referred to `body` in `year` (see the module docstring
    for the definitions). Two queries: one conditional aggregation, one count per month.

    Plain numbers only: ints, percentages as floats rounded to 1 decimal, None when the base is 0.
    """
    start, end = report_period(body, year)
    figures = period_report_figures(body=body, start=start, end=end)
    del figures["months"]
    return {"body": figures.pop("body"), "year": year, **figures}


def case_count_aggregates(tz: ZoneInfo, cases: QuerySet | None = None) -> dict:
    """What each case contributes to the figures, as named aggregates (plain counts, and the sum of
    the durations in days): the one rule, used by the annual report over its period and by the
    dashboard's day buckets (`mediation.case_figures`) over each day, then turned into figures by
    `figures_from_counts`. Summing the counts of the days of a period gives the period's counts.

    `cases`, the queryset being aggregated, also bounds the subqueries on proposals, answers and
    extensions (which the outer case already implies: the counts are the same): PostgreSQL may run such
    a subquery once, hashed, instead of once per case, and then it reads only these cases' rows (a
    day's bucket: ~3,000 cases) rather than every proposal of every year (seconds, at the design scale).
    """
    scope = {} if cases is None else {"case__in": cases.values("pk")}

    def refused_by(side: str) -> Exists:
        return Exists(
            ProposalResponse.objects.filter(
                proposal__case=OuterRef("pk"),
                side=side,
                decision=ResponseDecision.REFUSED,
                **{f"proposal__{key}": value for key, value in scope.items()},
            )
        )

    # The expressions go straight into the aggregates' filters, not through annotate(): aggregating
    # over annotations makes Django wrap the query in a subquery, and Django 5.2 then dropped the
    # `extended` column from it (SQLite silently read the missing "extended" as a string literal).
    # Calendar days from the local saisine day to the local closure day (D16, D38).
    duration = ExpressionWrapper(
        TruncDate("closed_at", tzinfo=tz) - TruncDate("saisine_at", tzinfo=tz),
        output_field=DurationField(),
    )
    extended = Exists(DeadlineExtension.objects.filter(case=OuterRef("pk"), **scope))
    # A mediation the mediator closed before any proposal has no outcome in anyone's favour.
    proposed = Exists(Proposal.objects.filter(case=OuterRef("pk"), **scope))
    consumer_refused = refused_by(PartySide.CONSUMER)
    merchant_refused = refused_by(PartySide.MERCHANT)
    after_saisine = Q(saisine_at__isnull=False, closed_at__isnull=False)
    past_limit = after_saisine & Q(GreaterThan(duration, timedelta(days=OUTCOME_LIMIT_DAYS)))
    no_agreement = Q(state=CaseState.NO_AGREEMENT)
    discontinued = Q(state=CaseState.DISCONTINUED)
    declined = Q(state=CaseState.MERCHANT_DECLINED)
    settled = Q(state=CaseState.SETTLED)

    def count(condition: Q | None = None) -> Count:
        return Count("pk", filter=condition)

    aggregates = {
        "received": count(),
        "opened": count(Q(saisine_at__isnull=False)),
        "in_progress": count(Q(state__in=ACTIVE_CASE_STATES)),
        "closed_after_saisine": count(after_saisine),
        # Summed, not averaged, so that days add up; the average is this sum / closed_after_saisine.
        "duration_sum": Sum(duration, filter=after_saisine),
        "past_limit": count(past_limit),
        "past_limit_extended": count(past_limit & Q(extended)),
        "extended": count(Q(extended)),
        "after_due_date": count(after_saisine & Q(closed_at__gt=F("outcome_due_at"))),
        "discontinued_by_consumer": count(discontinued & Q(closed_by_side=PartySide.CONSUMER)),
        "discontinued_by_merchant": count(discontinued & Q(closed_by_side=PartySide.MERCHANT)),
        "discontinued_after_saisine": count(discontinued & Q(saisine_at__isnull=False)),
        "declined_after_saisine": count(declined & Q(saisine_at__isnull=False)),
        "complied": count(settled & Q(merchant_complied=True)),
        "not_complied": count(settled & Q(merchant_complied=False)),
        "cross_border": count(~Q(complaint__consumer_country=F("complaint__merchant__country"))),
        "favour_consumer": count(no_agreement & Q(merchant_refused) & ~Q(consumer_refused)),
        "no_agreement_after_proposal": count(no_agreement & Q(proposed)),
        "favour_merchant": count(no_agreement & Q(consumer_refused) & ~Q(merchant_refused)),
        # Every state (the report shows the outcomes, the dashboard every state).
        **{f"state:{state}": count(Q(state=state)) for state in CaseState.values},
        **{f"reason:{reason}": count(Q(rejection_reason=reason)) for reason in RefusalReason.values},
        **{f"category:{category}": count(Q(complaint__category=category)) for category in Category.values},
    }
    for key, low, high in DURATION_BUCKETS:
        bucket = after_saisine & Q(GreaterThanOrEqual(duration, timedelta(days=low)))
        if high is not None:
            bucket &= Q(LessThanOrEqual(duration, timedelta(days=high)))
        aggregates[f"bucket:{key}"] = count(bucket)
    return aggregates


def plain_counts(row: dict) -> dict[str, int]:
    """An aggregate row of `case_count_aggregates` as JSON-ready ints (the duration sum in days)."""
    counts = {key: value for key, value in row.items() if key != "duration_sum"}
    total = row["duration_sum"]
    # Whole calendar days (D38): a sum of day differences. SQLite may answer microseconds.
    if isinstance(total, timedelta):
        total = total.days
    elif total is not None:
        total = round(total / 86_400_000_000)
    counts["duration_sum"] = total or 0
    return counts


def period_report_figures(*, body: MediationBody, start: datetime, end: datetime) -> dict:
    """`annual_report_figures` for the cases referred to `body` in [start, end), without "year": its
    `by_month` counts the period's local months, listed (ISO dates of their first day) in `months`.
    Two queries whatever the number of cases: a recount over the period's cases (the dashboard reads
    the same counts from its day buckets instead)."""
    tz = ZoneInfo(body.time_zone)
    cases = MediationCase.objects.filter(mediation_body=body, referred_at__gte=start, referred_at__lt=end)
    row = plain_counts(cases.aggregate(**case_count_aggregates(tz, cases)))

    months = period_months(start, end, tz)
    month_index = {(month.year, month.month): index for index, month in enumerate(months)}
    by_month = [0] * len(months)
    for month in (
        cases.annotate(month=TruncMonth("referred_at", tzinfo=tz))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by("month")
    ):  # one grouped row per month of the period, never the cases
        local = month["month"].astimezone(tz)
        by_month[month_index[(local.year, local.month)]] = month["n"]
    return figures_from_counts(body=body, start=start, end=end, row=row, by_month=by_month)


def figures_from_counts(
    *, body: MediationBody, start: datetime, end: datetime, row: dict[str, int], by_month: list[int]
) -> dict:
    """The report's figures from the counts of `case_count_aggregates` (`plain_counts`) of the cases
    referred in [start, end), and the number received in each of the period's months."""
    tz = ZoneInfo(body.time_zone)
    months = period_months(start, end, tz)
    received = row["received"]
    by_category = {category: row[f"category:{category}"] for category in Category.values}
    ranked = sorted(
        (category for category in Category.values if by_category[category]),
        key=lambda category: (-by_category[category], Category.values.index(category)),
    )
    closed = {state: row[f"state:{state}"] for state in OUTCOMES}
    rejected = closed[CaseState.REJECTED]
    closed_after_saisine = row["closed_after_saisine"]
    known = row["complied"] + row["not_complied"]
    answered = closed[CaseState.SETTLED] + row["no_agreement_after_proposal"]

    single_merchant = None
    if body.paid_by_single_merchant:
        favour_consumer, favour_merchant = row["favour_consumer"], row["favour_merchant"]
        single_merchant = {
            "proposals_with_outcome": answered,
            "in_favour_of_consumer": _share(favour_consumer, answered),
            "in_favour_of_merchant": _share(favour_merchant, answered),
            "undetermined": _share(answered - favour_consumer - favour_merchant, answered),
            "settled_amicably": _share(closed[CaseState.SETTLED], closed_after_saisine),
        }

    return {
        "body": body.slug,
        "time_zone": body.time_zone,
        "period_start": start.astimezone(tz).date().isoformat(),
        "period_end": (end.astimezone(tz) - timedelta(days=1)).date().isoformat(),
        "received": received,
        "opened": row["opened"],
        "in_progress": row["in_progress"],
        "closed": {**closed, "total": sum(closed.values())},
        "by_category": by_category,
        "top_categories": [
            {"category": category, **_share(by_category[category], received)}
            for category in ranked[:TOP_CATEGORIES]
        ],
        "by_month": by_month,
        "months": [month.isoformat() for month in months],
        "refused": {
            **_share(rejected, received),
            "by_reason": {
                reason: _share(row[f"reason:{reason}"], rejected) for reason in RefusalReason.values
            },
        },
        "discontinued": {
            **_share(closed[CaseState.DISCONTINUED], received),
            "by_consumer": row["discontinued_by_consumer"],
            "by_merchant": row["discontinued_by_merchant"],
            "before_saisine": closed[CaseState.DISCONTINUED] - row["discontinued_after_saisine"],
            "after_saisine": row["discontinued_after_saisine"],
        },
        "merchant_declined": {
            **_share(closed[CaseState.MERCHANT_DECLINED], received),
            "before_saisine": closed[CaseState.MERCHANT_DECLINED] - row["declined_after_saisine"],
            "after_saisine": row["declined_after_saisine"],
        },
        "duration": {
            "closed_after_saisine": closed_after_saisine,
            "average_days": (
                round(row["duration_sum"] / closed_after_saisine, 1) if closed_after_saisine else None
            ),
            "buckets": {key: row[f"bucket:{key}"] for key, _low, _high in DURATION_BUCKETS},
            "past_90_days": row["past_limit"],
            "past_90_days_extended": row["past_limit_extended"],
            "closed_after_due_date": row["after_due_date"],
            "extended": row["extended"],
        },
        "compliance": {
            "settled": closed[CaseState.SETTLED],
            "known": known,
            "complied": row["complied"],
            "not_complied": row["not_complied"],
            "percent": _percent(row["complied"], known),
        },
        "cross_border": _share(row["cross_border"], received),
        "single_merchant": single_merchant,
    }


# --- Charts: inline SVG drawn here, no library, no script. Every text is escaped. -----------------

FONT = 'font-family="DejaVu Sans, sans-serif"'
BLUE, RED, GREY, INK, MUTED = "#0b5cad", "#b42318", "#8a96a3", "#1b1f24", "#59636e"


def _number(value: float | int, decimals: int = 0) -> str:
    return formats.number_format(value, decimals)


def format_percent(value: float | None) -> str:
    """A percentage as people read it in the active language ("37,5 %"); "—" when not computable."""
    return "—" if value is None else f"{_number(value, 1)}\u00a0%"


def _svg(chart_id: str, title: str, width: int, height: int, body: str, description: str = "") -> SafeString:
    """The chart's frame. Presentation attributes only, never `style=` (the web pages' CSP forbids
    inline styles). `description`, if any, becomes a <desc> the chart is described by."""
    # Safe: every text inside was escaped where it was written (_text, the title and description here).
    chart_id = escape(chart_id)
    described = f' aria-describedby="{chart_id}-desc"' if description else ""
    desc = f'<desc id="{chart_id}-desc">{escape(description)}</desc>' if description else ""
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}" role="img" '
        f'aria-labelledby="{chart_id}-title"{described} viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">'
        f'<title id="{chart_id}-title">{escape(title)}</title>{desc}{body}</svg>'
    )


def _text(x: float, y: float, text: str, *, size: float, anchor: str = "start", fill: str = INK, bold=False):
    weight = ' font-weight="bold"' if bold else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" {FONT} font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}"{weight}>{escape(text)}</text>'
    )


def _text_width(text: str, size: float) -> float:
    """A generous estimate of the width of `text` in DejaVu Sans (about 0.6 em a character)."""
    return len(text) * size * 0.6


# The charts are drawn in a 340-unit-wide box that the template shows 104 mm wide (1 unit ≈ 0.87 pt),
# so a font size of 9 units prints at about 8 pt, like the report's small print.
CHART_WIDTH = 340
LABEL_SIZE = 8.5
VALUE_SIZE = 9


def bar_chart_svg(
    *,
    chart_id: str,
    title: str,
    labels: list[str],
    values: list[int],
    colours: list[str] | None = None,
    limit_after: int | None = None,
    limit_label: str = "",
    width: int = CHART_WIDTH,
    height: int = 130,
    highest: int | None = None,
    description: str = "",
) -> SafeString:
    """Vertical bars, each with its value above it and its label below. `limit_after=i` draws a
    dashed line after bar i (the 90-day limit in the duration chart), labelled `limit_label`.
    `highest` fixes the top of the scale, so that several charts side by side compare (at least the
    largest value); `description` is the chart's <desc>."""
    top, bottom, side = 24, 16, 2
    plot_height = height - top - bottom
    band = (width - 2 * side) / max(len(values), 1)
    bar = band * 0.64
    label_size = min(LABEL_SIZE, band / max((len(label) * 0.6 for label in labels), default=1) * 0.95)
    highest = max(max(values, default=0), highest or 0) or 1
    baseline = top + plot_height
    colours = colours or [BLUE] * len(values)
    parts = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = side + index * band
        bar_height = plot_height * value / highest
        if value:
            parts.append(
                f'<rect x="{x + (band - bar) / 2:.1f}" y="{baseline - bar_height:.1f}" width="{bar:.1f}" '
                f'height="{bar_height:.1f}" fill="{colours[index]}"/>'
            )
        parts.append(
            _text(
                x + band / 2,
                baseline - bar_height - 3,
                _number(value),
                size=VALUE_SIZE,
                anchor="middle",
                bold=True,
            )
        )
        parts.append(_text(x + band / 2, baseline + 11, label, size=label_size, anchor="middle", fill=MUTED))
    parts.append(
        f'<line x1="{side}" y1="{baseline}" x2="{width - side}" y2="{baseline}" stroke="{GREY}" '
        'stroke-width="0.8"/>'
    )
    if limit_after is not None:
        x = side + (limit_after + 1) * band
        parts.append(
            f'<line x1="{x:.1f}" y1="3" x2="{x:.1f}" y2="{baseline + 3}" stroke="{RED}" '
            'stroke-width="1.2" stroke-dasharray="4 3"/>'
        )
        parts.append(_text(x + 4, 10, limit_label, size=LABEL_SIZE, fill=RED, bold=True))
    return _svg(chart_id, title, width, height, "".join(parts), description)


def hbar_chart_svg(
    *,
    chart_id: str,
    title: str,
    rows: list[tuple[str, int, str]],
    colours: list[str] | None = None,
    width: int = CHART_WIDTH,
    description: str = "",
) -> SafeString:
    """Horizontal bars, one row per (label, value, text shown after the bar). The label column is as
    wide as the longest label needs, up to 45 % of the width. `description` is the chart's <desc>."""
    row_height, top, gap = 18, 3, 6
    value_width = max((_text_width(shown, LABEL_SIZE) for _label, _value, shown in rows), default=0) + gap
    longest = max((len(label) for label, _value, _shown in rows), default=1) or 1
    label_size = min(LABEL_SIZE, (width * 0.45 - gap) / (longest * 0.6))  # smaller type, never clipped
    label_width = longest * label_size * 0.6 + gap
    bar_area = width - label_width - value_width
    highest = max((value for _label, value, _shown in rows), default=0) or 1
    colours = colours or [BLUE] * len(rows)
    parts = []
    for index, (label, value, shown) in enumerate(rows):
        y = top + index * row_height
        length = bar_area * value / highest
        parts.append(_text(label_width - gap, y + 12, label, size=label_size, anchor="end"))
        if value:
            parts.append(
                f'<rect x="{label_width:.1f}" y="{y + 3}" width="{length:.1f}" height="{row_height - 6}" '
                f'fill="{colours[index]}"/>'
            )
        parts.append(_text(label_width + length + 4, y + 12, shown, size=LABEL_SIZE, bold=True))
    parts.append(
        f'<line x1="{label_width:.1f}" y1="{top}" x2="{label_width:.1f}" y2="{top + len(rows) * row_height}" '
        f'stroke="{GREY}" stroke-width="0.8"/>'
    )
    return _svg(chart_id, title, width, top * 2 + len(rows) * row_height, "".join(parts), description)


def month_labels(year: int) -> list[str]:
    return [formats.date_format(datetime(year, month, 1), "N") for month in range(1, 13)]


REFUSAL_SHORT_LABELS = {
    RefusalReason.NO_PRIOR_COMPLAINT: gettext_lazy("No prior complaint"),
    RefusalReason.UNFOUNDED_OR_ABUSIVE: gettext_lazy("Unfounded or abusive"),
    RefusalReason.ALREADY_EXAMINED: gettext_lazy("Already examined"),
    RefusalReason.TIME_BARRED: gettext_lazy("Time-barred"),
    RefusalReason.OUT_OF_COMPETENCE: gettext_lazy("Out of competence"),
}
OUTCOME_SHORT_LABELS = {
    CaseState.SETTLED: gettext_lazy("Settled"),
    CaseState.NO_AGREEMENT: gettext_lazy("No agreement"),
    CaseState.DISCONTINUED: gettext_lazy("Discontinued (withdrawal)"),
    CaseState.MERCHANT_DECLINED: gettext_lazy("Merchant declined"),
    CaseState.REJECTED: gettext_lazy("Refused (not admissible)"),
}


def duration_labels() -> list[str]:
    return [_("0–30 days"), _("31–60 days"), _("61–90 days"), _("over 90 days")]


def refusals_chart_svg(figures: dict, *, description: str = "") -> SafeString:
    """Refusals by reason code (D11), from `annual_report_figures` or `period_report_figures`."""
    return hbar_chart_svg(
        chart_id="chart-refusals",
        title=_("Refusals by reason (share of all refusals)"),
        rows=[
            (
                str(REFUSAL_SHORT_LABELS[reason]),
                share["count"],
                f"{_number(share['count'])} ({format_percent(share['percent'])})",
            )
            for reason, share in figures["refused"]["by_reason"].items()
        ],
        description=description,
    )


def durations_chart_svg(figures: dict, *, description: str = "") -> SafeString:
    """Durations (closure − saisine, D16) by bucket, the 90-day limit drawn after the third bar."""
    return bar_chart_svg(
        chart_id="chart-durations",
        title=_("Duration of the mediations closed after a saisine, against the 90-day limit"),
        labels=duration_labels(),
        values=list(figures["duration"]["buckets"].values()),
        colours=[BLUE, BLUE, BLUE, RED],
        limit_after=2,
        limit_label=_("90-day limit"),
        height=120,
        description=description,
    )


def annual_report_charts(figures: dict) -> dict[str, SafeString]:
    """The report's four charts as inline SVG, in the active language. The template puts the same
    numbers as text next to each one."""
    received = figures["received"]

    def shown(count: int) -> str:
        return f"{_number(count)} ({format_percent(_percent(count, received))})"

    outcome_rows = [
        (str(OUTCOME_SHORT_LABELS[state]), count, shown(count))
        for state, count in figures["closed"].items()
        if state != "total"
    ]
    outcome_rows.append((_("In progress"), figures["in_progress"], shown(figures["in_progress"])))
    return {
        "months": bar_chart_svg(
            chart_id="chart-months",
            title=_("Disputes received per month in %(year)s") % {"year": figures["year"]},
            labels=month_labels(figures["year"]),
            values=figures["by_month"],
        ),
        "refusals": refusals_chart_svg(figures),
        "durations": durations_chart_svg(figures),
        "outcomes": hbar_chart_svg(
            chart_id="chart-outcomes",
            title=_("Outcome of the disputes received (share of all disputes received)"),
            rows=outcome_rows,
            colours=[BLUE] * (len(outcome_rows) - 1) + [GREY],
        ),
    }


# --- The document ----------------------------------------------------------------------------------


def _presentation(figures: dict) -> dict:
    """Labelled rows for the template's textual lists (the same numbers as the charts)."""
    received = figures["received"]
    return {
        "categories": [
            (Category(category).label, count, format_percent(_percent(count, received)))
            for category, count in sorted(
                figures["by_category"].items(), key=lambda item: (-item[1], Category.values.index(item[0]))
            )
        ],
        "top_categories": [
            (Category(top["category"]).label, top["count"], format_percent(top["percent"]))
            for top in figures["top_categories"]
        ],
        "months": list(zip(month_labels(figures["year"]), figures["by_month"], strict=True)),
        "reasons": [
            (RefusalReason(reason).label, share["count"], format_percent(share["percent"]))
            for reason, share in figures["refused"]["by_reason"].items()
        ],
        "outcomes": [
            (OUTCOME_SHORT_LABELS[state], count, format_percent(_percent(count, received)))
            for state, count in figures["closed"].items()
            if state != "total"
        ],
        "durations": list(zip(duration_labels(), figures["duration"]["buckets"].values(), strict=True)),
        "percent": {
            "refused": format_percent(figures["refused"]["percent"]),
            "discontinued": format_percent(figures["discontinued"]["percent"]),
            "merchant_declined": format_percent(figures["merchant_declined"]["percent"]),
            "compliance": format_percent(figures["compliance"]["percent"]),
            "cross_border": format_percent(figures["cross_border"]["percent"]),
            "in_progress": format_percent(_percent(figures["in_progress"], received)),
        },
        "average_days": (
            None
            if figures["duration"]["average_days"] is None
            else _number(figures["duration"]["average_days"], 1)
        ),
        "single_merchant": (
            None
            if figures["single_merchant"] is None
            else {
                key: format_percent(value["percent"])
                for key, value in figures["single_merchant"].items()
                if isinstance(value, dict)
            }
        ),
    }


def figures_json(figures: dict) -> bytes:
    return json.dumps(figures, ensure_ascii=False, indent=2).encode()


def annual_report_spec(document: GeneratedDocument) -> DocumentSpec:
    """D36, D37: the annual activity report of `document.parameters["body"]` (a slug) for
    `document.parameters["year"]`, as PDF/A-3 with its figures embedded as `figures.json`.

    A report is not a case: no audit stream records it (`audit_stream=""`).
    """
    body = MediationBody.objects.get(slug=document.parameters["body"])
    year = int(document.parameters["year"])
    figures = annual_report_figures(body=body, year=year)
    with translation.override(document.language):
        charts = annual_report_charts(figures)
        rows = _presentation(figures)
        description = _("The report's figures, machine-readable")
    return DocumentSpec(
        template=TEMPLATE,
        context={
            "figures": figures,
            "charts": charts,
            "rows": rows,
            "body": body,
            "year": year,
            "issuer": body.name,
            "generated_at": clock.now(),
            "time_zone": body.time_zone,
            "period_start": report_period(body, year)[0].date(),
            "period_end": (report_period(body, year)[1] - timedelta(days=1)).date(),
            "outcome_limit_days": OUTCOME_LIMIT_DAYS,
        },
        filename=f"annual-report-{body.slug}-{year}.pdf",
        time_zone=body.time_zone,
        attachments=[PdfAttachment(ATTACHMENT_NAME, figures_json(figures), description)],
        audit_stream="",
    )
