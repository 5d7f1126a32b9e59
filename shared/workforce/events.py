"""The workforce's stored events: a worker registered, a worker who left. Kept in the referrals
service's store (whose registry, contracts.referrals.events, registers them) and read by every
service of the node through the workers read model."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.events import EventRegistry
from shared.workforce.workers import HOW_REGISTERED, LEAVING_REASONS, WORKER_ROLES


def _worker_id(**kwargs) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=200), **kwargs)


class WorkerRegisteredPayload(Schema):
    worker_id = _worker_id(required=True)
    display_name = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=200)
    )
    roles = fields.List(
        fields.String(validate=validate.OneOf(WORKER_ROLES)),
        required=True,
        validate=validate.Length(min=1),
    )
    registered_by = _worker_id(required=True)
    registered_on = fields.Date(required=True)
    how = fields.String(required=True, validate=validate.OneOf(HOW_REGISTERED))


class WorkerLeftPayload(Schema):
    worker_id = _worker_id(required=True)
    left_by = _worker_id(required=True)
    left_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(LEAVING_REASONS))


def register_events(registry: EventRegistry) -> None:
    registry.register("WorkerRegistered", WorkerRegisteredPayload)
    registry.register("WorkerLeft", WorkerLeftPayload)
