"""Probes are answered whatever Host header they carry.

A load balancer's or Kubernetes' probe calls the process by its address (`Host: 10.0.3.7:8000`),
which ALLOWED_HOSTS rightly refuses for everything else (DisallowedHost, a 400). For /healthz and
/readyz only, the host is taken as given: neither builds a URL from it or serves anything that
depends on it, and the request otherwise goes through the whole middleware chain (request id, request
metrics), as any other.
"""

PROBE_PATHS = frozenset({"/healthz", "/readyz"})


class ProbeHostMiddleware:
    """Before anything that reads request.get_host() (SecurityMiddleware, CommonMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info in PROBE_PATHS:
            # The raw Host, unvalidated (Django's own reader behind get_host()).
            request.get_host = request._get_raw_host
        return self.get_response(request)
