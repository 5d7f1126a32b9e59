"""The one command path every service takes (docs/architecture.md, "A command"):

1. load the aggregate with one read of its stream, and check the caller may see it (a new
   stream starts from a fresh aggregate, `Session(str(uuid.uuid4()))`, with no history);
2. check the version the client saw (If-Match or `expected_version`), if it sent one;
3. let the domain decide: `act(aggregate)` returns the new events (and applies them, through
   `Aggregate.decide`, so the aggregate answers as it now stands);
4. append them at the version loaded, with what must commit with them (`within(cur)`: vault
   rows, claims, another stream's events through `apply_within`) in the same transaction as
   the events and the read models the store's projector keeps;
5. respond with the aggregate and its version as the ETag.

A person's command over HTTP takes `run` (steps 2 to 4); a command with no client version to
check (one made by a consumer or a timer, or one that creates its stream) takes `apply` (steps
3 and 4), the context naming who acts. A read of one aggregate that shows a person's record is
audited through `audit_read`; other reads (lists, searches, what the vault holds) are written
to the service's audit log (`shared/audit.py`) by their handlers directly. Nothing here knows
HTTP routes or a service's rules; a handler is a small function of a `Commands`, which runs
against the in-memory store and a fake vault as well as against PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from shared.aggregate import Aggregate, RuleBroken
from shared.auth import Principal
from shared.events import Context, NewEvent, RecordedEvent
from shared.eventstore import ConcurrencyError
from shared.vault import PersonErased, PersonNotFound
from shared.web import NotFound, context_of, expected_version, json_response

A = TypeVar("A", bound=Aggregate)

# act(aggregate) -> the events the domain decided
Act = Callable[[A], list[NewEvent]]
# within(cur) writes what must commit with the events, or not at all
Within = Callable[[Any], None]
# visible(aggregate, history) raises NotFound or Forbidden for a caller who may not see it
Visible = Callable[[A, list[RecordedEvent]], None]
# stale(history, expected) says whether what happened since the client's version must make it
# look again (by default, anything did)
Stale = Callable[[list[RecordedEvent], int], bool]


class Store(Protocol):
    def read_stream(self, stream_type: str, stream_id: str) -> list[RecordedEvent]: ...

    def append(
        self,
        stream_type: str,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        context: Any,
        within: Within | None = None,
    ) -> list[RecordedEvent]: ...

    def append_within(
        self,
        cur: Any,
        stream_type: str,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        context: Any,
    ) -> list[RecordedEvent]: ...


class Commands:
    """A service's command path over its store and audit log."""

    def __init__(self, store: Store, audit: Any = None):
        self.store = store
        self.audit = audit

    def load(
        self,
        cls: type[A],
        stream_id: str,
        *,
        missing: str | None = None,
        visible: Visible | None = None,
    ) -> tuple[A, list[RecordedEvent]]:
        """The aggregate and its history, from one read of its stream; `missing` is what a
        caller is told when there is none (or it is another partner's: `visible` says so).
        Without `missing`, a stream with no events answers a fresh aggregate at version 0 (what
        a consumer or timer decides on when an event names a record not made yet)."""
        history = self.store.read_stream(cls.stream_type, str(stream_id))
        if not history:
            if missing is None:
                return cls(str(stream_id)), history
            raise NotFound(missing)
        aggregate = cls.fold(str(stream_id), history)
        if visible is not None:
            visible(aggregate, history)
        return aggregate, history

    def run(
        self,
        request,
        principal: Principal,
        aggregate: A,
        history: list[RecordedEvent],
        body: Mapping[str, Any],
        act: Act,
        *,
        within: Within | None = None,
        stale: Stale | None = None,
        context: Context | None = None,
    ) -> A:
        """Check the version the client saw, decide, append; the aggregate comes back at its
        new version. `context`: who acts and the correlation the events carry, when what
        `within` appends must share them (by default, the request's)."""
        expected = expected_version(request, dict(body))
        if (
            expected is not None
            and expected != aggregate.version
            and (stale is None or stale(history, expected))
        ):
            raise ConcurrencyError(aggregate.id, expected, aggregate.version)
        self.apply(aggregate, act, context or context_of(principal, request), within=within)
        return aggregate

    def apply(
        self, aggregate: A, act: Act, context: Context, *, within: Within | None = None
    ) -> list[RecordedEvent]:
        """Decide and append at the version loaded (a concurrent writer since is a
        ConcurrencyError, and nothing is stored), under `context`: who acts and what caused it.
        The aggregate comes to its new version; what was stored comes back (the events already
        there, when their ids were appended before; none, when nothing was decided)."""
        return _decided(
            aggregate,
            act,
            lambda version, events: self.store.append(
                aggregate.stream_type, aggregate.id, version, events, context, within=within
            ),
        )

    def apply_within(
        self, cur: Any, aggregate: A, act: Act, context: Context
    ) -> list[RecordedEvent]:
        """`apply` to a second stream from another append's `within(cur)`: both streams commit
        together or not at all (a person registered with the referral that names them). Nothing
        decided is nothing appended."""
        return _decided(
            aggregate,
            act,
            lambda version, events: (
                self.store.append_within(
                    cur, aggregate.stream_type, aggregate.id, version, events, context
                )
                if events
                else []
            ),
        )

    def audit_read(
        self, request, principal: Principal, aggregate: Aggregate, person_id, fields
    ) -> None:
        """A person's record was shown: who, what, and for which request."""
        self.audit.record(
            principal,
            "read",
            aggregate.stream_type,
            aggregate.id,
            person_id=str(person_id) if person_id else None,
            fields=fields,
            request_id=request.peerlink_request_id,
        )


def _decided(
    aggregate: A, act: Act, append: Callable[[int, list], list[RecordedEvent]]
) -> list[RecordedEvent]:
    """Let the domain decide on `aggregate` at the version loaded, append what it decided, and
    bring the aggregate to its new version; what was stored comes back."""
    version = aggregate.version
    recorded = append(version, act(aggregate))
    aggregate.version = recorded[-1].version if recorded else version
    return recorded


def respond(aggregate: Aggregate, body: Mapping[str, Any], status: int = 200):
    """The aggregate as the client sees it, with its version as the ETag (their If-Match)."""
    return json_response(status, dict(body), headers={"ETag": f'"{aggregate.version}"'})


def sealing(
    vault,
    subject,
    texts: Mapping[uuid.UUID | str, str],
    about: str,
    *,
    also: Within | None = None,
    instead: str = "nothing more is written about them",
) -> Within:
    """A `within` that seals each text (id -> words) under the subject's key in the appending
    transaction, after `also(cur)`; words about an erased person, or one not registered here, are
    refused (409), `about` naming the record ("this referral") and `instead` what the worker
    may do instead."""

    def within(cur) -> None:
        if also is not None:
            also(cur)
        for text_id, words in texts.items():
            try:
                vault.seal_text(cur, subject, words, uuid.UUID(str(text_id)))
            except PersonErased:
                raise RuleBroken(
                    "NothingIsWrittenAboutAnErasedPerson",
                    f"the person {about} is about was erased; {instead}",
                ) from None
            except PersonNotFound:
                # named before they are registered here (a referral accepted from a partner's
                # offer names its person so): words about them wait until they are
                raise RuleBroken(
                    "WordsNeedARegisteredPerson",
                    f"the person {about} is about is not registered here yet",
                ) from None

    return within
