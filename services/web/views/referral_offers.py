"""Referrals other partners offer to this one: the list, and an offer with the person's
record it brought, to accept (linking it to someone registered here when they may be them) or
decline with a reason."""

from __future__ import annotations

from services.web.api import Refused, segment
from services.web.app import Page, made_once, signed_in
from services.web.forms import Form
from services.web.views import people_found
from services.web.views.referral_codes import REASONS
from services.web.views.referral_steps import DECIDERS
from shared.web import route


class OfferPages:
    """Mixed into the web service: offers from partners."""

    @route(
        "GET",
        "/referrals/offers",
        public=True,
        media="text/html",
        summary="Referrals other partners have offered to this one",
    )
    @signed_in(*DECIDERS)
    def offers(self, page: Page):
        status = page.args.get("status", "received")
        if status not in ("received", "accepted", "declined", "withdrawn"):
            status = "received"
        found = page.api.get("referrals", "/offers", status=status, limit=100)
        return page.render(
            "referrals/offers.html",
            title="Offers from partners",
            offers=found["items"],
            total=found["total"],
            shown_status=status,
            back={"href": "/referrals", "text": "Back to referrals"},
        )

    @route(
        "GET",
        "/referrals/offers/<string:offer_id>",
        public=True,
        media="text/html",
        summary="An offer from a partner, with the person's record it brought, to accept or"
        " decline",
    )
    @signed_in(*DECIDERS)
    def offer_page(self, page: Page, offer_id: str):
        return self._offer_form(page, offer_id)

    @route(
        "POST",
        "/referrals/offers/<string:offer_id>",
        public=True,
        status=303,
        media="text/html",
        summary="Accept or decline an offer from a partner",
    )
    @signed_in(*DECIDERS)
    @made_once
    def offer_answered(self, page: Page, offer_id: str):
        form = Form(page.form, page.errors)
        path = f"/offers/{segment(offer_id)}"
        answer = form.choice("answer", "whether to accept or decline it", ("accept", "decline"))
        body: dict = {}
        if answer == "decline":
            body["reason"] = form.choice(
                "reason", "why it is declined", dict(REASONS["offer-decline"])
            )
        elif answer == "accept":
            who = page.form.get("use_person", "")
            if who == "new":
                body["register_person"] = True
            elif who:
                body["person_id"] = who
        if form.ok():
            try:
                done = page.api.post("referrals", f"{path}/{answer}", body)
            except Refused as refusal:
                if refusal.status not in (409, 422):
                    raise
                page.refused(refusal)
            else:
                if answer == "accept" and done.get("new_referral_id"):
                    return page.redirect(
                        f"/referrals/{segment(done['new_referral_id'])}", done="referral-recorded"
                    )
                return page.redirect("/referrals/offers", done="referral-updated")
        return self._offer_form(page, offer_id, status=422)

    def _offer_form(self, page: Page, offer_id: str, status=200):
        offer = page.api.get("referrals", f"/offers/{segment(offer_id)}")
        record = offer.get("record") or {}
        identifiers = record.get("identifiers") or {}
        candidates = []
        if offer["status"] == "received" and identifiers:
            matches = people_found.possible_matches(page, identifiers)
            candidates = people_found.describe(page, matches)
        return page.render(
            "referrals/offer.html",
            status=status,
            title="Offer from a partner",
            offer=offer,
            record=record,
            identifiers=identifiers,
            candidates=candidates,
            reasons=REASONS["offer-decline"],
            values={k: page.form.get(k, "") for k in ("answer", "reason", "use_person")},
            back={"href": "/referrals/offers", "text": "Back to offers"},
        )
