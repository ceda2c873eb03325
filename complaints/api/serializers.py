"""Complaint API: output serializers (what the merchant reads) and input serializers (what it sends).

Input serializers only parse; the services decide (complaints/services.py). Money is integer cents
plus an ISO 4217 currency; datetimes are ISO 8601 with their offset.
"""

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from odr.api.schema import EnumField

from ..models import AnswerDecision, Complaint, ComplaintState, Evidence, Message, Offer

# --- Output ---------------------------------------------------------------------------------------


class PersonSerializer(serializers.Serializer):
    name = serializers.CharField(source="display_name")
    email = serializers.EmailField()


class ComplaintSerializer(serializers.ModelSerializer):
    """A complaint as the merchant's list shows it."""

    state = EnumField(ComplaintState.choices, enum_name="ComplaintStateEnum")
    answer_decision = EnumField(AnswerDecision.choices, enum_name="AnswerDecisionEnum", allow_null=True)
    consumer = PersonSerializer()
    mediation_case_reference = serializers.SerializerMethodField()

    class Meta:
        model = Complaint
        fields = [
            "reference",
            "state",
            "category",
            "order_reference",
            "order_date",
            "amount_cents",
            "currency",
            "consumer",
            "filed_at",
            "response_due_at",
            "answered_at",
            "answer_decision",
            "closed_at",
            "referral_window_ends_at",
            "mediation_case_reference",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["answer_decision"] = data["answer_decision"] or None  # "" until answered
        return data

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_mediation_case_reference(self, complaint) -> str | None:
        case = getattr(complaint, "mediation_case", None)
        return case.reference if case is not None else None


# --- The list's fast path ----------------------------------------------------------------------------
# The list answers up to 100 complaints per request. Through ComplaintSerializer that is 100 model
# instances (and their consumers and cases) and ~1,500 DRF fields, most of the list's time
# (bench/api.py, docs/performance.md "REST API"). The list reads these columns with `values()` and
# writes each row with `complaint_rows_data`: the same JSON as ComplaintSerializer, which stays the
# documented schema and serves the detail; tests/api/test_complaint_rows.py holds the two equal for
# complaints in every state, with and without the optional fields.
COMPLAINT_ROW_COLUMNS = (
    "pk",  # the cursor's position
    *(
        name
        for name in ComplaintSerializer.Meta.fields
        if name not in ("consumer", "mediation_case_reference")
    ),
    "consumer__first_name",
    "consumer__last_name",
    "consumer__email",
    "mediation_case__reference",
)


def _iso_datetime(value, zone) -> str | None:
    """As DRF's DateTimeField writes it: in the current time zone, ISO 8601, UTC as "Z"."""
    if value is None:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def complaint_rows_data(rows) -> list[dict]:
    """ComplaintSerializer's output for `values(*COMPLAINT_ROW_COLUMNS)` rows."""
    zone = timezone.get_current_timezone()
    return [
        {
            "reference": row["reference"],
            "state": row["state"],
            "category": row["category"],
            "order_reference": row["order_reference"],
            "order_date": row["order_date"].isoformat() if row["order_date"] is not None else None,
            "amount_cents": row["amount_cents"],
            "currency": row["currency"],
            "consumer": {
                "name": f"{row['consumer__first_name']} {row['consumer__last_name']}".strip()
                or row["consumer__email"],
                "email": row["consumer__email"],
            },
            "filed_at": _iso_datetime(row["filed_at"], zone),
            "response_due_at": _iso_datetime(row["response_due_at"], zone),
            "answered_at": _iso_datetime(row["answered_at"], zone),
            "answer_decision": row["answer_decision"] or None,  # "" until answered
            "closed_at": _iso_datetime(row["closed_at"], zone),
            "referral_window_ends_at": _iso_datetime(row["referral_window_ends_at"], zone),
            "mediation_case_reference": row["mediation_case__reference"],
        }
        for row in rows
    ]


class ComplaintDetailSerializer(ComplaintSerializer):
    class Meta(ComplaintSerializer.Meta):
        fields = [
            *ComplaintSerializer.Meta.fields,
            "description",
            "desired_outcome",
            "consumer_country",
            "written_complaint_at",
            "answer_text",
            "response_lapsed_at",
        ]
        read_only_fields = fields


class OfferSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="pk")
    responds_to = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Offer
        fields = [
            "id",
            "kind",
            "side",
            "status",
            "amount_cents",
            "currency",
            "terms",
            "responds_to",
            "made_at",
            "decided_at",
        ]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="pk")
    author_name = serializers.CharField(source="author.display_name")

    class Meta:
        model = Message
        fields = ["id", "side", "author_name", "body", "sent_at"]
        read_only_fields = fields


class DocumentSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="original_name")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = ["id", "side", "name", "content_type", "size", "sha256", "uploaded_at", "download_url"]
        read_only_fields = fields

    def get_download_url(self, evidence) -> str:
        return reverse("api:complaint-document-download", args=[self.context["reference"], evidence.pk])


# --- Input ----------------------------------------------------------------------------------------


class AnswerInputSerializer(serializers.Serializer):
    decision = EnumField(AnswerDecision.choices, enum_name="AnswerDecisionEnum")
    text = serializers.CharField(help_text="The answer to the consumer.")
    amount_cents = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, help_text="With decision=offer: the amount offered."
    )
    terms = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="With decision=offer: the terms."
    )


class OfferInputSerializer(serializers.Serializer):
    terms = serializers.CharField()
    amount_cents = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    responds_to = serializers.IntegerField(
        required=False, allow_null=True, help_text="The id of the consumer's counter-offer this answers."
    )


class OfferResponseInputSerializer(serializers.Serializer):
    decision = EnumField([("accept", "accept"), ("decline", "decline")], enum_name="OfferDecisionEnum")


class MessageInputSerializer(serializers.Serializer):
    body = serializers.CharField()


class DocumentInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="PDF, JPEG, PNG or UTF-8 text; checked by its content.")
