from celery import shared_task

from .services import consents_expire_due


@shared_task(name="odr.consent.expire_due")
def expire_due_consents() -> int:
    return consents_expire_due()
