from .models import AuditEvent


def audit_events_for(stream: str):
    """A case's trail, oldest first, with the actor in the same query."""
    return AuditEvent.objects.filter(stream=stream).select_related("actor").order_by("seq")
