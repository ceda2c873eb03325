"""Placeholder: RFC 9457 problem details land with issue 7."""

from rest_framework.views import exception_handler


def problem_exception_handler(exc, context):
    return exception_handler(exc, context)
