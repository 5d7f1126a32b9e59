"""Marshmallow field types that published event contracts and request bodies share, with no
HTTP or storage behind them."""

from __future__ import annotations

from marshmallow import fields


class Text(fields.String):
    """Free text a person writes: trimmed; nothing but spaces is refused (the rule
    TextMustHaveContent)."""

    default_error_messages = {"blank": "must not be blank (rule TextMustHaveContent)"}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
            raise self.make_error("blank")
        return text
