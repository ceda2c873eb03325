"""Who may do what on a complaint (django-rules). Every predicate is False without an object."""

import rules

from odr.accounts.selectors import is_merchant_staff


@rules.predicate
def is_complaint_consumer(user, complaint) -> bool:
    return bool(complaint is not None and user and user.is_authenticated and complaint.consumer_id == user.pk)


@rules.predicate
def is_complaint_merchant_staff(user, complaint) -> bool:
    return complaint is not None and is_merchant_staff(user, complaint.merchant)


is_complaint_party = is_complaint_consumer | is_complaint_merchant_staff

rules.add_perm("complaints.view_complaint", is_complaint_party)
rules.add_perm("complaints.answer_complaint", is_complaint_merchant_staff)
rules.add_perm("complaints.post_message", is_complaint_party)
rules.add_perm("complaints.withdraw_complaint", is_complaint_consumer)
rules.add_perm("complaints.refer_complaint", is_complaint_consumer)
