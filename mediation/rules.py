"""Who may do what on a mediation case (django-rules). Every predicate is False without an object.

D30: case content is for the parties, their representatives, the assigned mediator and the compliance
officers of that mediation body. A mediator of the body sees a case nobody has taken yet, to take it.
"""

import rules

from odr.accounts.selectors import is_compliance_officer_of, is_mediator_of, is_merchant_staff


@rules.predicate
def is_case_consumer(user, case) -> bool:
    return bool(case is not None and user and user.is_authenticated and case.complaint.consumer_id == user.pk)


@rules.predicate
def is_case_merchant_staff(user, case) -> bool:
    return case is not None and is_merchant_staff(user, case.complaint.merchant)


@rules.predicate
def is_case_mediator(user, case) -> bool:
    """The assigned mediator, or any mediator of the body while nobody is assigned."""
    if case is None or not is_mediator_of(user, case.mediation_body):
        return False
    return case.mediator_id is None or case.mediator_id == user.pk


@rules.predicate
def is_case_compliance_officer(user, case) -> bool:
    return case is not None and is_compliance_officer_of(user, case.mediation_body)


is_case_party = is_case_consumer | is_case_merchant_staff

rules.add_perm(
    "mediation.view_mediationcase",
    is_case_party | is_case_mediator | is_case_compliance_officer,
)
rules.add_perm("mediation.act_as_mediator", is_case_mediator)
rules.add_perm("mediation.respond_as_party", is_case_party)
