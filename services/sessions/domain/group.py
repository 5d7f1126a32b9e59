"""A group or programme: its members, a waiting list when it is full, and its facilitators."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from contracts.sessions.codes import CLOSED, OPEN
from services.sessions.domain.records import ChangeMustChangeSomething, unique
from shared.aggregate import Aggregate, Rule
from shared.events import NewEvent


class GroupMustBeNew(Rule):
    pass


class GroupMustBeOpen(Rule):
    pass


class GroupNeedsAFacilitator(Rule):
    pass


class GroupCapacityMustBeAtLeastOne(Rule):
    pass


class PersonJoinsAGroupOnce(Rule):
    pass


class OnlyMembersOrWaitingCanLeave(Rule):
    pass


class FacilitatorIsAddedOnce(Rule):
    pass


class OnlyAFacilitatorCanBeRemoved(Rule):
    pass


class Group(Aggregate):
    """A named group or programme: its members, a waiting list when full, its facilitators."""

    stream_type = "group"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.status: str | None = None
        self.name: str | None = None
        self.kind: str | None = None
        self.capacity = 0
        self.sessions_planned: int | None = None
        self.facilitator_ids: list[str] = []
        self.members: list[str] = []
        self.waiting: list[str] = []

    # -- commands ----------------------------------------------------------------------------

    def create(
        self,
        *,
        name: str,
        kind: str,
        capacity: int,
        facilitator_ids: Sequence[str],
        by: str,
        on: date,
        sessions_planned: int | None = None,
    ) -> list[NewEvent]:
        if self.status is not None:
            raise GroupMustBeNew("this group already exists")
        facilitators = unique(facilitator_ids)
        if not facilitators:
            raise GroupNeedsAFacilitator("a group needs at least one facilitator")
        self._capacity_allowed(capacity)
        payload = {
            "name": name,
            "kind": kind,
            "capacity": capacity,
            "facilitator_ids": facilitators,
            "sessions_planned": sessions_planned,
            "created_by": by,
            "created_on": on.isoformat(),
        }
        return self.decide([NewEvent("GroupCreated", payload)])

    def join(self, *, person_id: str, by: str, on: date) -> list[NewEvent]:
        """A place if there is one; otherwise a place on the waiting list."""
        self._must_be_open()
        person_id = str(person_id)
        if person_id in self.members:
            raise PersonJoinsAGroupOnce("this person is already a member of the group")
        if person_id in self.waiting:
            raise PersonJoinsAGroupOnce("this person is already on the group's waiting list")
        if len(self.members) < self.capacity:
            event = NewEvent(
                "GroupMemberJoined",
                {"person_id": person_id, "joined_on": on.isoformat(), "recorded_by": by},
            )
        else:
            event = NewEvent(
                "GroupWaitingListJoined",
                {
                    "person_id": person_id,
                    "position": len(self.waiting) + 1,
                    "joined_on": on.isoformat(),
                    "recorded_by": by,
                },
            )
        return self.decide([event])

    def leave(self, *, person_id: str, reason: str, by: str, on: date) -> list[NewEvent]:
        """A member leaving frees a place for the first person waiting."""
        self._must_be_open()
        person_id = str(person_id)
        payload = {
            "person_id": person_id,
            "reason": reason,
            "left_on": on.isoformat(),
            "recorded_by": by,
        }
        if person_id in self.waiting:
            return self.decide([NewEvent("GroupWaitingListLeft", payload)])
        if person_id not in self.members:
            raise OnlyMembersOrWaitingCanLeave(
                "this person is neither a member of the group nor on its waiting list"
            )
        return self.decide([NewEvent("GroupMemberLeft", payload)]) + self._promote(by, on)

    def change_capacity(self, *, capacity: int, by: str, on: date) -> list[NewEvent]:
        """More places promote people waiting; fewer places remove nobody, newcomers wait."""
        self._must_be_open()
        self._capacity_allowed(capacity)
        if capacity == self.capacity:
            raise ChangeMustChangeSomething(f"the group already has {capacity} places")
        payload = {
            "capacity": capacity,
            "previous_capacity": self.capacity,
            "changed_by": by,
            "changed_on": on.isoformat(),
        }
        return self.decide([NewEvent("GroupCapacityChanged", payload)]) + self._promote(by, on)

    def add_facilitator(self, *, worker_id: str, by: str, on: date) -> list[NewEvent]:
        self._must_be_open()
        if worker_id in self.facilitator_ids:
            raise FacilitatorIsAddedOnce("this worker already facilitates the group")
        return self.decide([self._facilitator_event("GroupFacilitatorAdded", worker_id, by, on)])

    def remove_facilitator(self, *, worker_id: str, by: str, on: date) -> list[NewEvent]:
        self._must_be_open()
        if worker_id not in self.facilitator_ids:
            raise OnlyAFacilitatorCanBeRemoved("this worker does not facilitate the group")
        if self.facilitator_ids == [worker_id]:
            raise GroupNeedsAFacilitator(
                "this is the group's only facilitator; add another before removing them"
            )
        return self.decide([self._facilitator_event("GroupFacilitatorRemoved", worker_id, by, on)])

    def close(self, *, reason: str, by: str, on: date) -> list[NewEvent]:
        self._must_be_open()
        payload = {"reason": reason, "closed_by": by, "closed_on": on.isoformat()}
        return self.decide([NewEvent("GroupClosed", payload)])

    def _promote(self, by: str, on: date) -> list[NewEvent]:
        promoted = []
        while self.waiting and len(self.members) < self.capacity:
            payload = {"person_id": self.waiting[0], "promoted_on": on.isoformat(), "by": by}
            promoted += self.decide([NewEvent("GroupMemberPromoted", payload)])
        return promoted

    def _must_be_open(self) -> None:
        if self.status is None:
            raise GroupMustBeOpen("no such group")
        if self.status != OPEN:
            raise GroupMustBeOpen("this group has closed")

    @staticmethod
    def _capacity_allowed(capacity: int) -> None:
        if capacity < 1:
            raise GroupCapacityMustBeAtLeastOne("a group has at least one place")

    @staticmethod
    def _facilitator_event(event_type: str, worker_id: str, by: str, on: date) -> NewEvent:
        payload = {"worker_id": worker_id, "recorded_by": by, "on": on.isoformat()}
        return NewEvent(event_type, payload)

    # -- folding -----------------------------------------------------------------------------

    def apply_group_created(self, p: dict) -> None:
        self.status = OPEN
        self.name = p["name"]
        self.kind = p["kind"]
        self.capacity = p["capacity"]
        self.sessions_planned = p["sessions_planned"]
        self.facilitator_ids = list(p["facilitator_ids"])

    def apply_group_member_joined(self, p: dict) -> None:
        self.members.append(p["person_id"])

    def apply_group_waiting_list_joined(self, p: dict) -> None:
        self.waiting.append(p["person_id"])

    def apply_group_member_left(self, p: dict) -> None:
        self.members.remove(p["person_id"])

    def apply_group_waiting_list_left(self, p: dict) -> None:
        self.waiting.remove(p["person_id"])

    def apply_group_member_promoted(self, p: dict) -> None:
        self.waiting.remove(p["person_id"])
        self.members.append(p["person_id"])

    def apply_group_capacity_changed(self, p: dict) -> None:
        self.capacity = p["capacity"]

    def apply_group_facilitator_added(self, p: dict) -> None:
        self.facilitator_ids.append(p["worker_id"])

    def apply_group_facilitator_removed(self, p: dict) -> None:
        self.facilitator_ids.remove(p["worker_id"])

    def apply_group_closed(self, p: dict) -> None:
        self.status = CLOSED

    # -- reading -----------------------------------------------------------------------------

    @property
    def places_free(self) -> int:
        return max(self.capacity - len(self.members), 0)

    def as_dict(self) -> dict:
        return {
            "group_id": self.id,
            "version": self.version,
            "status": self.status,
            "name": self.name,
            "kind": self.kind,
            "capacity": self.capacity,
            "places_free": self.places_free,
            "sessions_planned": self.sessions_planned,
            "facilitator_ids": self.facilitator_ids,
            "members": self.members,
            "waiting_list": self.waiting,
        }
