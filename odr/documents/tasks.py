from celery import shared_task

from .services import document_render, documents_render_pending


@shared_task(name="odr.documents.render", acks_late=True)
def render_document(document_id: int) -> str:
    document = document_render(document_id)
    return document.status if document else "missing"


@shared_task(name="odr.documents.render_pending")
def render_pending_documents() -> int:
    return documents_render_pending()
