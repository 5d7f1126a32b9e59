"""The Concern aggregate: a safeguarding concern from being raised (or suggested by the system)
through a lead's acknowledgement and decision, the actions that follow, to its closing outcome;
with the deadlines missed and escalations made on the way.

Every refusal is a named rule with a message a worker understands. Commands return events;
`apply_*` (state.py) folds them. Free text (what happened, notes, reasons) never enters an
event: the service seals it in the vault and passes its text id. No I/O here. Each part of a
concern's life is a module of its own: suggestions.py, raising.py, deciding.py, actions.py,
escalations.py; what it records when raised, and the rules for that, in details.py.
"""

from __future__ import annotations

from services.safeguarding.domain.actions import Actions
from services.safeguarding.domain.deciding import Deciding
from services.safeguarding.domain.escalations import Escalations
from services.safeguarding.domain.raising import Raising
from services.safeguarding.domain.suggestions import Suggestions


class Concern(Suggestions, Raising, Deciding, Actions, Escalations):
    """A safeguarding concern (stream type `concern`)."""
