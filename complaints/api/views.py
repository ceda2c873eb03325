"""The complaint API for merchants (issue 7). Thin: parse with an input serializer, fetch through the
selectors (narrowed to the key's merchant), call the same service as the portal, answer with an
output serializer. A complaint of another merchant is a 404, like a missing one (D30)."""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from odr.api.access import merchant_ids_for
from odr.api.base import ApiListView, ApiView
from odr.api.idempotency import idempotent
from odr.api.pagination import ChronologicalCursorPagination
from odr.api.schema import (
    IDEMPOTENCY_KEY,
    LIST_ERRORS,
    NESTED_LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    problem_responses,
)
from odr.documents.uploads import ALLOWED_TYPES

from .. import services
from ..evidence import evidence_add
from ..models import Complaint, Evidence, Message, Offer
from ..selectors import complaints_of_party
from ..views.shared import file_response
from .filters import ComplaintFilter
from .serializers import (
    COMPLAINT_ROW_COLUMNS,
    AnswerInputSerializer,
    ComplaintDetailSerializer,
    ComplaintSerializer,
    DocumentInputSerializer,
    DocumentSerializer,
    MessageInputSerializer,
    MessageSerializer,
    OfferInputSerializer,
    OfferResponseInputSerializer,
    OfferSerializer,
    complaint_rows_data,
)

TAG = ["complaints"]


def merchant_complaints(request):
    """The complaints the request's merchant(s) received: the parties' selector, merchant side only."""
    return complaints_of_party(request.user).filter(merchant_id__in=merchant_ids_for(request))


class ComplaintMixin:
    def get_complaint(self) -> Complaint:
        complaint = (
            merchant_complaints(self.request)
            .select_related("mediation_case")
            .filter(reference=self.kwargs["reference"])
            .first()
        )
        if complaint is None:
            raise Http404
        return complaint

    def parse(self, serializer_class):
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class ComplaintListView(ApiListView):
    serializer_class = ComplaintSerializer  # the documented shape; rows are written by complaint_rows_data
    filterset_class = ComplaintFilter

    def get_queryset(self):
        # The merchants the request acts for (odr.api.access): the key's one merchant, whose staff
        # its creator is (checked at authentication), or the signed-in person's merchants. The
        # parties' selector would add its consumer-or-staff test, true of every row here.
        return Complaint.objects.filter(merchant_id__in=merchant_ids_for(self.request)).values(
            *COMPLAINT_ROW_COLUMNS
        )

    @extend_schema(
        tags=TAG,
        operation_id="complaints_list",
        summary="List the merchant's complaints",
        responses={200: ComplaintSerializer(many=True), **problem_responses(*LIST_ERRORS)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(complaint_rows_data(page))


class ComplaintDetailView(ComplaintMixin, ApiView):
    serializer_class = ComplaintDetailSerializer

    @extend_schema(
        tags=TAG,
        operation_id="complaints_retrieve",
        summary="A complaint of the merchant",
        responses={200: ComplaintDetailSerializer, **problem_responses(*READ_ERRORS)},
    )
    def get(self, request, reference):
        return Response(ComplaintDetailSerializer(self.get_complaint()).data)


class ComplaintAnswerView(ComplaintMixin, ApiView):
    @extend_schema(
        tags=TAG,
        operation_id="complaints_answer",
        summary="Answer a complaint: accept, make an offer, or reject (D3, D4)",
        parameters=[IDEMPOTENCY_KEY],
        request=AnswerInputSerializer,
        responses={200: ComplaintDetailSerializer, **problem_responses(*WRITE_ERRORS)},
    )
    @idempotent
    def post(self, request, reference):
        complaint = self.get_complaint()
        data = self.parse(AnswerInputSerializer)
        complaint = services.complaint_answer(
            complaint=complaint,
            by=request.user,
            decision=data["decision"],
            text=data["text"],
            amount_cents=data.get("amount_cents"),
            terms=data.get("terms", ""),
        )
        return Response(ComplaintDetailSerializer(self.get_complaint()).data)


class OfferListView(ComplaintMixin, ApiListView):
    serializer_class = OfferSerializer
    pagination_class = ChronologicalCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Offer.objects.none()
        return Offer.objects.filter(complaint=self.get_complaint())

    @extend_schema(
        tags=TAG,
        operation_id="complaints_offers_list",
        summary="The offer ledger of a complaint",
        responses={200: OfferSerializer(many=True), **problem_responses(*NESTED_LIST_ERRORS)},
    )
    def get(self, request, reference):
        return self.list(request)

    @extend_schema(
        tags=TAG,
        operation_id="complaints_offers_create",
        summary="Make a further offer, or answer a counter-offer",
        parameters=[IDEMPOTENCY_KEY],
        request=OfferInputSerializer,
        responses={201: OfferSerializer, **problem_responses(*WRITE_ERRORS)},
    )
    @idempotent
    def post(self, request, reference):
        complaint = self.get_complaint()
        data = self.parse(OfferInputSerializer)
        responds_to = None
        if data.get("responds_to") is not None:
            responds_to = Offer.objects.filter(pk=data["responds_to"], complaint=complaint).first()
            if responds_to is None:
                raise Http404
        offer = services.offer_make(
            complaint=complaint,
            by=request.user,
            terms=data["terms"],
            amount_cents=data.get("amount_cents"),
            responds_to=responds_to,
        )
        return Response(OfferSerializer(offer).data, status=status.HTTP_201_CREATED)


class OfferMixin(ComplaintMixin):
    def get_offer(self) -> Offer:
        complaint = self.get_complaint()
        offer = (
            Offer.objects.filter(pk=self.kwargs["pk"], complaint=complaint)
            .select_related("complaint")
            .first()
        )
        if offer is None:
            raise Http404
        return offer


class OfferRespondView(OfferMixin, ApiView):
    @extend_schema(
        tags=TAG,
        operation_id="complaints_offers_respond",
        summary="Accept (the complaint is resolved) or decline the consumer's counter-offer",
        parameters=[IDEMPOTENCY_KEY],
        request=OfferResponseInputSerializer,
        responses={200: OfferSerializer, **problem_responses(*WRITE_ERRORS)},
    )
    @idempotent
    def post(self, request, reference, pk):
        offer = self.get_offer()
        data = self.parse(OfferResponseInputSerializer)
        offer = services.offer_respond(offer=offer, by=request.user, accept=data["decision"] == "accept")
        return Response(OfferSerializer(offer).data)


class OfferWithdrawView(OfferMixin, ApiView):
    @extend_schema(
        tags=TAG,
        operation_id="complaints_offers_withdraw",
        summary="Withdraw one of the merchant's open offers",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={200: OfferSerializer, **problem_responses(*WRITE_ERRORS)},
    )
    @idempotent
    def post(self, request, reference, pk):
        offer = services.offer_withdraw(offer=self.get_offer(), by=request.user)
        return Response(OfferSerializer(offer).data)


class MessageListView(ComplaintMixin, ApiListView):
    serializer_class = MessageSerializer
    pagination_class = ChronologicalCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Message.objects.none()
        return Message.objects.filter(complaint=self.get_complaint()).select_related("author")

    @extend_schema(
        tags=TAG,
        operation_id="complaints_messages_list",
        summary="The messages between the consumer and the merchant",
        responses={200: MessageSerializer(many=True), **problem_responses(*NESTED_LIST_ERRORS)},
    )
    def get(self, request, reference):
        return self.list(request)

    @extend_schema(
        tags=TAG,
        operation_id="complaints_messages_create",
        summary="Write to the consumer",
        parameters=[IDEMPOTENCY_KEY],
        request=MessageInputSerializer,
        responses={201: MessageSerializer, **problem_responses(*WRITE_ERRORS)},
    )
    @idempotent
    def post(self, request, reference):
        complaint = self.get_complaint()
        data = self.parse(MessageInputSerializer)
        message = services.complaint_post_message(complaint=complaint, by=request.user, body=data["body"])
        message = Message.objects.select_related("author").get(pk=message.pk)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class DocumentListView(ComplaintMixin, ApiListView):
    serializer_class = DocumentSerializer
    pagination_class = ChronologicalCursorPagination
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Evidence.objects.none()
        return Evidence.objects.filter(complaint=self.get_complaint())

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "reference": self.kwargs["reference"]}

    @extend_schema(
        tags=TAG,
        operation_id="complaints_documents_list",
        summary="The files both parties added to the complaint",
        responses={200: DocumentSerializer(many=True), **problem_responses(*NESTED_LIST_ERRORS)},
    )
    def get(self, request, reference):
        return self.list(request)

    @extend_schema(
        tags=TAG,
        operation_id="complaints_documents_create",
        summary="Add a file (multipart/form-data, field `file`)",
        parameters=[IDEMPOTENCY_KEY],
        request={"multipart/form-data": DocumentInputSerializer},
        responses={201: DocumentSerializer, **problem_responses(*WRITE_ERRORS)},
    )
    @idempotent
    def post(self, request, reference):
        complaint = self.get_complaint()
        data = self.parse(DocumentInputSerializer)
        evidence = evidence_add(complaint=complaint, by=request.user, file=data["file"])
        context = {"reference": complaint.reference}
        return Response(DocumentSerializer(evidence, context=context).data, status=status.HTTP_201_CREATED)


class DocumentDownloadView(ComplaintMixin, ApiView):
    @extend_schema(
        tags=TAG,
        operation_id="complaints_documents_download",
        summary="Download a file of the complaint (always as an attachment)",
        responses={
            **{
                (200, content_type): OpenApiResponse(
                    OpenApiTypes.BINARY, description="The file, with the Content-Type detected at upload."
                )
                for content_type in ALLOWED_TYPES
            },
            **problem_responses(*READ_ERRORS),
        },
    )
    def get(self, request, reference, pk):
        complaint = self.get_complaint()
        evidence = Evidence.objects.filter(pk=pk, complaint=complaint).first()
        if evidence is None:
            raise Http404
        return file_response(
            evidence.file,
            filename=evidence.original_name,
            content_type=evidence.content_type,
            size=evidence.size,
        )
