"""Filters of the merchant's complaint list: state, filing date range, answer due before."""

import django_filters

from ..models import Complaint, ComplaintState


class ComplaintFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(
        choices=ComplaintState.choices, help_text="One or more states (repeat the parameter)."
    )
    created_after = django_filters.IsoDateTimeFilter(
        field_name="filed_at", lookup_expr="gte", help_text="Filed at or after (ISO 8601)."
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="filed_at", lookup_expr="lt", help_text="Filed before (ISO 8601)."
    )
    due_before = django_filters.IsoDateTimeFilter(
        field_name="response_due_at", lookup_expr="lt", help_text="Merchant's answer due before (ISO 8601)."
    )

    class Meta:
        model = Complaint
        fields = ["state", "created_after", "created_before", "due_before"]
