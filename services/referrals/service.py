"""The referrals service of a partner node: its dependencies and the routes it mixes in (intake,
casework, records, offers, people, workers, retention), each a module of its own; the rules
live in domain/, the stored events in contracts.referrals.events."""

from __future__ import annotations

from psycogreen.eventlet import patch_psycopg

from contracts.referrals import SCHEMA
from contracts.referrals.events import registry
from services.referrals.casework import CaseworkApi
from services.referrals.intake import IntakeApi
from services.referrals.offers import OffersApi, PartnerTransferKeys
from services.referrals.open_items import OpenItems
from services.referrals.people import PeopleApi
from services.referrals.projections import referrals_projector
from services.referrals.records import RecordsApi
from services.referrals.retention import RetentionApi
from services.referrals.settings import ReferralSettings
from services.referrals.workforce import WorkersApi
from shared.service import Audit, EventStore, NodeSettings, Operations, PeopleVault
from shared.settings import ServiceSettings, settings_of
from shared.web import Verifier
from shared.workforce.roster import Workforce

patch_psycopg()


class ReferralsService(
    IntakeApi,
    CaseworkApi,
    RecordsApi,
    OffersApi,
    PeopleApi,
    WorkersApi,
    RetentionApi,
    Operations,
):
    """Referrals: received, accepted or declined, allocated, active, on hold, discharged; the
    people they are about and the workers they are allocated to."""

    name = "referrals"
    config = ServiceSettings(ReferralSettings)
    store = EventStore(
        SCHEMA,
        registry,
        make_projector=lambda: referrals_projector(
            settings_of(ReferralSettings).first_contact_working_days
        ),
    )
    audit = Audit()
    vault = PeopleVault()
    settings = NodeSettings()
    verifier = Verifier()
    workforce = Workforce()
    open_items = OpenItems()
    transfer_keys = PartnerTransferKeys()
