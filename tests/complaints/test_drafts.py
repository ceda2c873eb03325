"""The consumer's draft: typing kept as typed, answers kept as checked, neither undoing the other."""

import pytest

from complaints.drafts import draft_answers_shown, draft_for, draft_keep_typing, draft_save
from complaints.models import ComplaintDraft

ANSWERS = {
    "category": "non_delivery",
    "description": "Colis jamais arrivé.",
    "desired_outcome": "Remboursement.",
}


@pytest.mark.django_db
def test_a_late_autosave_does_not_undo_the_saved_answers(consumer):
    """The page's autosave request and its submit may cross: the autosave that arrives last, holding
    a copy of the draft read before the submit, must not write the answers back to empty."""
    stale = draft_for(consumer)
    draft_save(draft=ComplaintDraft.objects.get(pk=stale.pk), answers=ANSWERS)

    draft_keep_typing(draft=stale, answers={"description": "Colis jamais arrivé."})

    saved = ComplaintDraft.objects.get(pk=stale.pk)
    assert {k: saved.data[k] for k in ANSWERS} == ANSWERS
    assert draft_answers_shown(saved)["description"] == "Colis jamais arrivé."


@pytest.mark.django_db
def test_typing_keeps_only_the_steps_fields_and_caps_their_length(consumer):
    draft = draft_keep_typing(
        draft=draft_for(consumer), answers={"description": "x" * 50_000, "is_staff": "1", "merchant": "7"}
    )
    assert set(draft.data["typing"]) == {"description"}
    assert len(draft.data["typing"]["description"]) == 20_000
