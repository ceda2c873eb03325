"""The signed checkpoints, published (D34): public, no login, next to /.well-known/jwks.json.

An auditor downloads the files (each a compact JWS) and the JWK Set, then runs
`verify_audit --checkpoint <dir> --keys jwks.json` or any JOSE library. The list is paged by number
(`?after=N`), so its cost does not grow with the years.
"""

from django.http import Http404, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from .models import AuditCheckpoint

PAGE = 500


@require_GET
def checkpoint_list(request):
    try:
        # Bounded to the column's range: a number past it would be a database error, not an empty page.
        after = min(max(int(request.GET.get("after", 0)), 0), 2**31 - 1)
    except ValueError:
        after = 0
    rows = list(
        AuditCheckpoint.objects.filter(number__gt=after)
        .order_by("number")
        .values("number", "created_at", "heads", "kid", "sha256")[: PAGE + 1]
    )
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    for row in rows:
        row["url"] = request.build_absolute_uri(reverse("audit:checkpoint", args=[row["number"]]))
    following = None
    if more:
        following = request.build_absolute_uri(f"{reverse('audit:checkpoints')}?after={rows[-1]['number']}")
    return JsonResponse({"checkpoints": rows, "next": following})


@require_GET
def checkpoint_file(request, number: int):
    compact = AuditCheckpoint.objects.filter(number=number).values_list("compact", flat=True).first()
    if compact is None:
        raise Http404
    response = HttpResponse(compact, content_type="application/jose")
    response["Content-Disposition"] = f'attachment; filename="audit-checkpoint-{number:08d}.jws"'
    return response
