"""The mediation API for merchants: the cases of their complaints, as a party sees them (D20, D30).

Reads go through `cases_visible_to` / `case_messages_for` narrowed to the key's merchant; writes call
the same services as the parties' pages. Another merchant's case is a 404, like a missing one.
"""

from django.db.models import Prefetch
from django.http import Http404
from django.utils.translation import get_language
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from complaints.models import PartySide
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

from ..models import PRIVATE_AUDIENCE_OF, Audience, CaseMessage, MediationCase, Proposal
from ..selectors import case_messages_for, cases_visible_to
from ..services import case_merchant_decline, case_post_message, case_withdraw, proposal_respond
from .serializers import (
    TO_EVERYONE,
    CaseDetailSerializer,
    CaseMessageInputSerializer,
    CaseMessageSerializer,
    CaseSerializer,
    ProposalAnswerInputSerializer,
    ReasonInputSerializer,
)

TAG = ["mediation cases"]


def merchant_cases(request):
    """The cases of the request's merchant(s) complaints: D30's selector, merchant side only."""
    return cases_visible_to(request.user).filter(complaint__merchant_id__in=merchant_ids_for(request))


class CaseMixin:
    def get_case(self, *, detail: bool = False) -> MediationCase:
        cases = merchant_cases(self.request)
        if detail:
            cases = cases.prefetch_related(
                Prefetch("proposals", queryset=Proposal.objects.prefetch_related("responses"))
            )
        case = cases.filter(reference=self.kwargs["reference"]).first()
        if case is None:
            raise Http404
        return case

    def parse(self, serializer_class):
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def detail(self):
        return Response(CaseDetailSerializer(self.get_case(detail=True)).data)


class CaseListView(ApiListView):
    serializer_class = CaseSerializer

    def get_queryset(self):
        return merchant_cases(self.request)

    @extend_schema(
        tags=TAG,
        operation_id="cases_list",
        summary="The mediation cases of the merchant's complaints",
        responses={200: CaseSerializer(many=True), **problem_responses(*LIST_ERRORS)},
    )
    def get(self, request):
        return self.list(request)


class CaseDetailView(CaseMixin, ApiView):
    serializer_class = CaseDetailSerializer

    @extend_schema(
        tags=TAG,
        operation_id="cases_retrieve",
        summary="A case, with its proposals and the parties' answers",
        responses={200: CaseDetailSerializer, **problem_responses(*READ_ERRORS)},
    )
    def get(self, request, reference):
        return self.detail()


class ProposalRespondView(CaseMixin, ApiView):
    @extend_schema(
        tags=TAG,
        operation_id="cases_proposals_respond",
        summary="Accept or refuse the latest proposal before its deadline (D25, D26, D31)",
        parameters=[IDEMPOTENCY_KEY],
        request=ProposalAnswerInputSerializer,
        responses={200: CaseDetailSerializer, **problem_responses(*WRITE_ERRORS)},
    )
    @idempotent
    def post(self, request, reference, pk):
        case = self.get_case()
        proposal = Proposal.objects.filter(pk=pk, case=case).select_related("case").first()
        if proposal is None:
            raise Http404
        data = self.parse(ProposalAnswerInputSerializer)
        proposal_respond(
            proposal=proposal, by=request.user, accept=data["decision"] == "accept", language=get_language()
        )
        return self.detail()


class CaseDeclineView(CaseMixin, ApiView):
    @extend_schema(
        tags=TAG,
        operation_id="cases_decline",
        summary="Decline to take part in the mediation (D23)",
        parameters=[IDEMPOTENCY_KEY],
        request=ReasonInputSerializer,
        responses={200: CaseDetailSerializer, **problem_responses(*WRITE_ERRORS)},
    )
    @idempotent
    def post(self, request, reference):
        case = self.get_case()
        data = self.parse(ReasonInputSerializer)
        case_merchant_decline(case=case, by=request.user, reason=data["reason"])
        return self.detail()


class CaseWithdrawView(CaseMixin, ApiView):
    @extend_schema(
        tags=TAG,
        operation_id="cases_withdraw",
        summary="Withdraw from the mediation (D19)",
        parameters=[IDEMPOTENCY_KEY],
        request=ReasonInputSerializer,
        responses={200: CaseDetailSerializer, **problem_responses(*WRITE_ERRORS)},
    )
    @idempotent
    def post(self, request, reference):
        case = self.get_case()
        data = self.parse(ReasonInputSerializer)
        case_withdraw(case=case, by=request.user, reason=data["reason"])
        return self.detail()


class CaseMessageListView(CaseMixin, ApiListView):
    serializer_class = CaseMessageSerializer
    pagination_class = ChronologicalCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CaseMessage.objects.none()
        return case_messages_for(self.request.user, self.get_case())

    @extend_schema(
        tags=TAG,
        operation_id="cases_messages_list",
        summary="The messages the merchant may read: the joint channel and its private one (D20)",
        responses={200: CaseMessageSerializer(many=True), **problem_responses(*NESTED_LIST_ERRORS)},
    )
    def get(self, request, reference):
        return self.list(request)

    @extend_schema(
        tags=TAG,
        operation_id="cases_messages_create",
        summary="Write to everyone, or privately to the mediator",
        parameters=[IDEMPOTENCY_KEY],
        request=CaseMessageInputSerializer,
        responses={201: CaseMessageSerializer, **problem_responses(*WRITE_ERRORS)},
    )
    @idempotent
    def post(self, request, reference):
        case = self.get_case()
        data = self.parse(CaseMessageInputSerializer)
        audience = Audience.EVERYONE if data["to"] == TO_EVERYONE else PRIVATE_AUDIENCE_OF[PartySide.MERCHANT]
        message = case_post_message(case=case, by=request.user, body=data["body"], audience=audience)
        message = CaseMessage.objects.select_related("author").get(pk=message.pk)
        return Response(CaseMessageSerializer(message).data, status=status.HTTP_201_CREATED)
