"""The /workers routes' request and response bodies (marshmallow)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.web import Text
from shared.workforce.roster import WORKER_ID_PATTERN
from shared.workforce.workers import LEAVING_REASONS, LEFT, REGISTERED, WORKER_ROLES


class RegisterWorkerBody(Schema):
    # the id their sign-in gives them: a provider's subject (a GUID, a number, a username or an
    # e-mail address), never a path or markup
    worker_id = Text(
        required=True,
        validate=[
            validate.Length(min=1, max=200),
            validate.Regexp(
                WORKER_ID_PATTERN,
                error="must be the id the worker signs in with: letters, digits and . _ @ + -",
            ),
        ],
    )
    display_name = Text(load_default=None, validate=validate.Length(min=1, max=200))
    roles = fields.List(
        fields.String(validate=validate.OneOf(WORKER_ROLES)),
        load_default=lambda: ["peer_worker"],
        validate=validate.Length(min=1, max=len(WORKER_ROLES)),
    )


class WorkerLeavesBody(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(LEAVING_REASONS))
    on = fields.Date(load_default=None)
    expected_version = fields.Integer(load_default=None, validate=validate.Range(min=1))


class WorkerListQuery(Schema):
    status = fields.String(
        load_default=REGISTERED, validate=validate.OneOf((REGISTERED, LEFT, "any"))
    )
    role = fields.String(validate=validate.OneOf(WORKER_ROLES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class WorkerOut(Schema):
    worker_id = fields.String()
    version = fields.Integer()
    status = fields.String()
    display_name = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    registered_on = fields.Date()
    left_on = fields.Date(allow_none=True)


class WorkerListItem(WorkerOut):
    status = fields.String(validate=validate.OneOf((REGISTERED, LEFT)))
    roles = fields.List(fields.String(validate=validate.OneOf(WORKER_ROLES)))


class WorkerPage(Schema):
    items = fields.List(fields.Nested(WorkerListItem))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()
