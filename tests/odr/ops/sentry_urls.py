"""A view that fails, for the error-reporting test (tests/odr/ops/test_sentry.py)."""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def broken(request, reference):
    raise RuntimeError(f"the case page broke for {reference}")


urlpatterns = [path("complaints/<str:reference>/broken/", broken, name="broken")]
