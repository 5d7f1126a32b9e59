"""Sessions event payloads and request bodies."""

from __future__ import annotations

from shared.events import EventRegistry

registry = EventRegistry()
