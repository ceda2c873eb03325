"""OpenAPI helpers: the problem-details schemas and the error responses each endpoint documents."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent, build_choice_field
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from .idempotency import MAX_KEY_LENGTH
from .problems import PROBLEM_CONTENT_TYPE


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="A URI naming the kind of problem: urn:odr:problem:<code>.")
    title = serializers.CharField(help_text="A short, fixed English summary of the kind of problem.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong here, in the request's language.")
    code = serializers.CharField(help_text="A stable machine-readable code, e.g. transition_refused.")

    class Meta:
        ref_name = "Problem"


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="The field (dotted path); null for the body.")
    code = serializers.CharField()
    detail = serializers.CharField()

    class Meta:
        ref_name = "FieldError"


class ValidationProblemSerializer(ProblemSerializer):
    errors = FieldErrorSerializer(many=True)

    class Meta:
        ref_name = "ValidationProblem"


DESCRIPTIONS = {
    400: "The request is malformed or a field is not valid (code validation_error, with `errors`).",
    401: "No API key, or an unknown or revoked one.",
    403: "A read-only key on a write (insufficient_scope), or a party's action not allowed (forbidden).",
    404: "No such object, or one the key's merchant may not see.",
    409: "The case is not in a state that allows this (transition_refused), or the first request "
    "with this Idempotency-Key is still running (idempotency_in_progress).",
    415: "The body's media type is not accepted.",
    422: "The domain refused the content (invalid), or the Idempotency-Key was used for another "
    "request (idempotency_key_reused).",
    429: "Too many requests for this API key: see Retry-After.",
}


def problem_responses(*statuses: int) -> dict:
    """`responses` entries for `statuses` plus the ones every endpoint may answer (401, 429)."""
    responses = {}
    for status in sorted({401, 429, *statuses}):
        serializer = ValidationProblemSerializer if status == 400 else ProblemSerializer
        responses[(status, PROBLEM_CONTENT_TYPE)] = OpenApiResponse(
            serializer, description=DESCRIPTIONS[status]
        )
    return responses


READ_ERRORS = (404,)
LIST_ERRORS = (400,)  # a filter or a cursor that is not valid
NESTED_LIST_ERRORS = (400, 404)  # the list of an object: the object may not exist, the cursor be bad
IDEMPOTENT_ERRORS = (400, 409, 422)  # a bad Idempotency-Key, its first request still running, reused
WRITE_ERRORS = (400, 403, 404, 409, 415, 422)

IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    # As odr.api.idempotency checks it (a blank value arrives empty: HTTP strips header values).
    type={"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": r"\S"},
    location=OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (e.g. a UUID). A retry with the same key and body gets the first "
    "answer again (header Idempotent-Replayed: true) and changes nothing; the same key with another "
    "body is refused (422). Kept 24 hours.",
)


class EnumField(serializers.ChoiceField):
    """A choice field documented as its own named enum component (`enum_name`): field names such as
    `state` or `decision` mean different choice sets in different resources."""

    def __init__(self, choices, *, enum_name: str, **kwargs):
        self.enum_name = enum_name
        super().__init__(choices, **kwargs)


class EnumFieldExtension(OpenApiSerializerFieldExtension):
    target_class = EnumField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = build_choice_field(self.target)
        schema.pop("x-spec-enum-id", None)
        # One component serves both directions, so null is not one of its values (an input using the
        # same enum would document null as accepted): a nullable field is "the enum or NullEnum", as
        # drf-spectacular writes its own nullable choice fields.
        if "enum" in schema:
            schema["enum"] = [value for value in schema["enum"] if value is not None]
        component = ResolvedComponent(
            name=self.target.enum_name,
            type=ResolvedComponent.SCHEMA,
            object=self.target.enum_name,
            schema=schema,
        )
        auto_schema.registry.register_on_missing(component)
        if not self.target.allow_null:
            return component.ref
        null = ResolvedComponent(
            name="NullEnum", type=ResolvedComponent.SCHEMA, object="NullEnum", schema={"enum": [None]}
        )
        auto_schema.registry.register_on_missing(null)
        return {"oneOf": [component.ref, null.ref]}
