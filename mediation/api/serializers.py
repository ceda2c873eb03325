"""Mediation API: a case as a party (the merchant) sees it, and what the merchant may send."""

from django.utils.translation import get_language
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from odr.api.schema import EnumField

from ..models import (
    CaseMessage,
    CaseState,
    MediationCase,
    Proposal,
    ProposalResponse,
    RefusalReason,
    ResponseDecision,
)

# --- Output ---------------------------------------------------------------------------------------


class ProposalResponseSerializer(serializers.ModelSerializer):
    decision = EnumField(ResponseDecision.choices, enum_name="ProposalResponseDecisionEnum")

    class Meta:
        model = ProposalResponse
        fields = ["side", "decision", "deemed", "responded_at"]
        read_only_fields = fields


class ProposalSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="pk")
    statements = serializers.SerializerMethodField(
        help_text="The mandatory statements (D24) in the request's language, as stored with the proposal."
    )
    responses = ProposalResponseSerializer(many=True)

    class Meta:
        model = Proposal
        fields = ["id", "solution", "statements", "issued_at", "acceptance_due_at", "responses"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_statements(self, proposal):
        statements = proposal.statements or {}
        return statements.get(get_language()) or next(iter(statements.values()), {})


class CaseSerializer(serializers.ModelSerializer):
    state = EnumField(CaseState.choices, enum_name="CaseStateEnum")
    complaint_reference = serializers.CharField(source="complaint.reference")
    mediation_body = serializers.CharField(source="mediation_body.name")

    class Meta:
        model = MediationCase
        fields = [
            "reference",
            "state",
            "complaint_reference",
            "mediation_body",
            "referred_at",
            "admissibility_due_at",
            "saisine_at",
            "outcome_due_at",
            "closed_at",
            "closed_by_side",
            "outcome_grounds",
        ]
        read_only_fields = fields


class CaseDetailSerializer(CaseSerializer):
    rejection_reason = EnumField(
        RefusalReason.choices,
        enum_name="RejectionReasonEnum",
        allow_null=True,
        help_text="Why the mediator refused the case (D12); null unless the case was rejected.",
    )
    proposals = ProposalSerializer(many=True)

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "rejection_reason", "rejection_reasoning", "proposals"]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["rejection_reason"] = data["rejection_reason"] or None  # "" unless rejected
        return data


class CaseMessageSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="pk")
    author_name = serializers.CharField(source="author.display_name")
    about_document = serializers.PrimaryKeyRelatedField(source="about", read_only=True, allow_null=True)

    class Meta:
        model = CaseMessage
        fields = ["id", "author_role", "author_name", "audience", "body", "sent_at", "about_document"]
        read_only_fields = fields


# --- Input ----------------------------------------------------------------------------------------

TO_EVERYONE, TO_MEDIATOR = "everyone", "mediator"


class ProposalAnswerInputSerializer(serializers.Serializer):
    decision = EnumField([("accept", "accept"), ("refuse", "refuse")], enum_name="ProposalAnswerEnum")


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class CaseMessageInputSerializer(serializers.Serializer):
    body = serializers.CharField()
    to = serializers.ChoiceField(
        choices=[(TO_EVERYONE, TO_EVERYONE), (TO_MEDIATOR, TO_MEDIATOR)],
        default=TO_EVERYONE,
        help_text="everyone: the consumer and the mediator; mediator: the merchant's private channel.",
    )
