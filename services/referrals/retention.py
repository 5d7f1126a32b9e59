"""Retention: people whose last contact is older than the partner's retention period are
flagged for review (an event on the person's stream), and listed for partner admins, who decide
on erasure. Nothing is deleted by the job itself.

The NHS Records Management Code of Practice keeps mental health records 20 years after the last
contact (docs/domain.md, "Data protection"); a partner sets its own period with
PEERLINK_RETENTION_YEARS. A person's last contact is the latest of: their registration, a
referral received or first contact made for them, and a session at which they were seen.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime

from nameko.timer import timer

from services.referrals import queries
from services.referrals.api_people import RetentionDuePage, RetentionReview, RetentionReviewBody
from services.referrals.domain import Person
from shared import policy
from shared.commands import Commands
from shared.events import Actor, Context, NewEvent
from shared.eventstore import ConcurrencyError
from shared.web import BadRequest, PageQuery, context_of, route

log = logging.getLogger(__name__)

JOB_ACTOR = Actor("retention-job", "service")


def retention_cutoff(as_of: date, years: int) -> date:
    """The day before which a last contact is past retention on `as_of` (29 February falls
    back to 28 February in a year without it)."""
    try:
        return as_of.replace(year=as_of.year - years)
    except ValueError:
        return as_of.replace(year=as_of.year - years, day=28)


class RetentionApi:
    """Mixed into the referrals service; expects `store`, `settings`, `config`, `audit`."""

    def _due(self, as_of: date) -> list[dict]:
        with self.store.db.transaction() as cur:
            rows = queries.last_contacts(cur, retention_cutoff(as_of, self.config.retention_years))
        return [
            {
                "person_id": str(person),
                "last_contact_on": last,
                "flagged_at": flagged_at if flagged == last else None,
            }
            for person, last, flagged, flagged_at in rows
        ]

    def _flag(self, as_of: date, context: Context) -> int:
        """Append PersonRetentionDue for each person due and not yet flagged for this last
        contact; a run repeated, or racing another, adds nothing twice."""
        commands, flagged = Commands(self.store), 0
        for item in self._due(as_of):
            if item["flagged_at"] is not None:
                continue
            person, history = commands.load(Person, item["person_id"])
            if not history or person.is_erased:
                continue
            event = NewEvent(
                "PersonRetentionDue",
                {
                    "person_id": item["person_id"],
                    "last_contact_on": item["last_contact_on"].isoformat(),
                    "retention_years": self.config.retention_years,
                    "review_as_of": as_of.isoformat(),
                },
            )
            try:
                commands.apply(person, lambda person, event=event: person.decide([event]), context)
                flagged += 1
            except ConcurrencyError:
                continue
        return flagged

    @timer(interval=3600)
    def retention_job(self):
        """Hourly: flag people past the retention period as of today."""
        context = Context(
            partner_id=self.settings.partner_id, actor=JOB_ACTOR, correlation_id=uuid.uuid4()
        )
        try:
            flagged = self._flag(datetime.now(UTC).date(), context)
            if flagged:
                log.info("retention review flagged %s people", flagged)
        except Exception:  # noqa: BLE001 - the next run tries again
            log.exception("retention review failed")

    @route(
        "POST",
        "/people/retention-review",
        roles=policy.MAY_REVIEW_RETENTION,
        body=RetentionReviewBody,
        response=RetentionReview,
        summary="Run the retention review now (or as of a later date) and list who is due",
    )
    def retention_review(self, request, principal, body):
        today = datetime.now(UTC).date()
        as_of = body.get("as_of") or today
        if as_of < today:
            raise BadRequest("as_of", "cannot be in the past: the review flags who is due now")
        flagged = self._flag(as_of, context_of(principal, request))
        due = self._due(as_of)
        return {
            "as_of": as_of,
            "retention_years": self.config.retention_years,
            "flagged": flagged,
            "due": due,
            "total": len(due),
        }

    @route(
        "GET",
        "/people/retention-due",
        roles=policy.MAY_REVIEW_RETENTION,
        query=PageQuery,
        response=RetentionDuePage,
        summary="People past the retention period, with their last contact, for review",
    )
    def retention_due(self, request, principal, query):
        today = datetime.now(UTC).date()
        due = self._due(today)
        items = due[query["offset"] : query["offset"] + query["limit"]]
        self.audit.record(
            principal,
            "search",
            "person",
            fields=["retention"],
            request_id=request.peerlink_request_id,
            detail={"returned": len(items)},
        )
        return {
            "as_of": today,
            "retention_years": self.config.retention_years,
            "items": items,
            "total": len(due),
            "limit": query["limit"],
            "offset": query["offset"],
        }
