import pytest

from shared.eventstore import InMemoryEventStore
from tests.contract import EventStoreContract, registry

pytestmark = pytest.mark.unit


class TestInMemoryEventStore(EventStoreContract):
    @pytest.fixture
    def store(self):
        return InMemoryEventStore(registry)

    def store_with_registry(self, store, other_registry):
        writer = InMemoryEventStore(other_registry)
        # share storage: the same store read through another registry
        writer.__dict__.update({k: v for k, v in store.__dict__.items() if k not in ("registry",)})
        return writer
