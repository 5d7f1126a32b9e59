"""The safeguarding lead's inbox as server-rendered HTML: open concerns by deadline with the
overdue ones marked, and a concern's timeline with forms to acknowledge and decide. No script:
every action is a plain form post, answered with a redirect back to the concern.

Every value is escaped; the pages are built from the read model and the concern's events, the
same as the JSON API serves.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from services.safeguarding.deadlines import SEVERITIES
from services.safeguarding.domain import DECISIONS, NO_FURTHER_ACTION_REASONS

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d1d1b; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #ddd; }
tr.overdue td { background: #fde2e1; }
tr.overdue td.due { color: #a4000f; font-weight: 700; }
.tag { display: inline-block; padding: .1rem .4rem; border-radius: .3rem; background: #eee; }
.tag.immediate { background: #a4000f; color: #fff; } .tag.high { background: #f0b400; }
ol.timeline li { margin-bottom: .6rem; } .when { color: #555; }
form { margin: .8rem 0; padding: .8rem; border: 1px solid #ccc; max-width: 40rem; }
label { display: block; margin: .3rem 0; } button { margin-top: .5rem; padding: .3rem .8rem; }
blockquote { margin: .3rem 0 .3rem 1rem; padding-left: .6rem; border-left: 3px solid #ccc; }
"""

_EVENT_WORDS = {
    "ConcernSuggested": "Suggested by the system",
    "ConcernSuggestionDismissed": "Suggestion dismissed",
    "ConcernRaised": "Raised",
    "ConcernPersonIdentified": "Person identified",
    "ConcernAcknowledged": "Acknowledged",
    "ConcernDecided": "Decided",
    "ConcernDecisionRevised": "Decision revised",
    "ConcernActionAdded": "Action added",
    "ConcernActionCompleted": "Action completed",
    "ConcernNoteAdded": "Note added",
    "ConcernClosed": "Closed",
    "DeadlineMissed": "Deadline missed",
    "ConcernEscalated": "Escalated",
    "EscalationNotified": "Told by e-mail",
}
# what a timeline entry shows beside its texts; the rest is in the API's history
_SHOWN = (
    "severity",
    "categories",
    "decision",
    "reason",
    "agency_reference",
    "kind",
    "owner_id",
    "due_on",
    "outcome",
    "deadline",
    "rung",
    "step",
    "channel",
)


def _words(code) -> str:
    if isinstance(code, list):
        return ", ".join(_words(c) for c in code)
    return escape(str(code).replace("_", " "))


def _when(at, zone: ZoneInfo) -> str:
    """On the partner's clock (GMT or BST in England), as the lead reads it."""
    if at is None:
        return ""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return escape(at.astimezone(zone).strftime("%d %b %Y %H:%M %Z"))


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def inbox_page(items: list[dict], total: int, zone: ZoneInfo) -> str:
    rows = []
    for item in items:
        overdue = item["is_overdue"]
        cid, severity = escape(item["concern_id"]), escape(item["severity"] or "")
        rows.append(
            f'<tr class="{"overdue" if overdue else "on-time"}" data-concern="{cid}">'
            f'<td class="due">{_when(item["due_at"], zone)}{" (overdue)" if overdue else ""}</td>'
            f"<td>{_words(item['open_deadline'] or '')}</td>"
            f'<td><span class="tag {severity}">{_words(item["severity"])}</span></td>'
            f"<td>{_words(item['categories'])}</td>"
            f"<td>{_words(item['status'])}</td>"
            f"<td>{_words(item['escalated_to'] or '')}</td>"
            f'<td><a href="/inbox/concerns/{cid}">open</a></td></tr>'
        )
    table = (
        "<table><thead><tr><th>Due</th><th>Waiting for</th><th>Severity</th><th>Categories</th>"
        "<th>Status</th><th>Escalated to</th><th></th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        if rows
        else "<p>No open concerns.</p>"
    )
    return _page(
        "Safeguarding inbox",
        f"<h1>Safeguarding inbox</h1><p>{total} open concern(s), the nearest deadline first; "
        f"overdue ones are marked red.</p>{table}",
    )


def concern_page(view: dict, texts: dict, timeline: list[dict], zone: ZoneInfo) -> str:
    cid = escape(view["concern_id"])
    facts = [
        ("Status", _words(view["status"])),
        ("Severity", _words(view["severity"])),
        ("About", _words(view["age_group"])),
        ("Categories", _words(view["categories"])),
        ("Raised", f"{_when(view['raised_at'], zone)} by {escape(view['raised_by'] or '')}"),
        ("Acknowledge by", _when(view.get("acknowledge_by"), zone)),
        ("Decide by", _when(view.get("decide_by"), zone)),
        ("Decision", _words(view["decision"] or "none yet")),
    ]
    entries = []
    for step in timeline:
        details = "; ".join(
            f"{_words(name)}: {_words(step['details'][name])}"
            for name in _SHOWN
            if step["details"].get(name) not in (None, [], "")
        )
        words = "".join(
            f"<blockquote>{_words(name.removesuffix('_text'))}: {escape(str(text))}</blockquote>"
            for name, text in step["texts"].items()
            if text is not None
        )
        entries.append(
            f"<li><strong>{escape(_EVENT_WORDS.get(step['event_type'], step['event_type']))}"
            f'</strong> <span class="when">{_when(step["occurred_at"], zone)} by '
            f"{escape(step['by'])}</span><div>{details}</div>{words}</li>"
        )
    version = int(view["version"])
    forms = ""
    if view["status"] == "raised":
        options = "".join(
            f'<option value="{s}"{" selected" if s == view["severity"] else ""}>{s}</option>'
            for s in SEVERITIES
        )
        forms += (
            f'<form method="post" action="/inbox/concerns/{cid}/acknowledge">'
            f'<input type="hidden" name="expected_version" value="{version}">'
            f'<label>Severity <select name="severity">{options}</select></label>'
            f'<button type="submit" name="acknowledge">Acknowledge</button></form>'
        )
    if view["status"] in ("acknowledged", "decided"):
        decisions = "".join(f'<option value="{d}">{_words(d)}</option>' for d in DECISIONS)
        reasons = '<option value="">(only with no further action)</option>' + "".join(
            f'<option value="{r}">{_words(r)}</option>' for r in NO_FURTHER_ACTION_REASONS
        )
        forms += (
            f'<form method="post" action="/inbox/concerns/{cid}/decide">'
            f'<input type="hidden" name="expected_version" value="{version}">'
            f'<label>Decision <select name="decision">{decisions}</select></label>'
            f'<label>Reason <select name="reason">{reasons}</select></label>'
            f'<label>Rationale <textarea name="rationale" rows="3" cols="50"></textarea></label>'
            f'<label>Agency reference <input name="agency_reference"></label>'
            + (
                '<label>Why the decision changes <textarea name="revision_reason" rows="3"'
                ' cols="50" required></textarea></label>'
                if view["status"] == "decided"
                else ""
            )
            + '<button type="submit" name="decide">Record the decision</button></form>'
        )
    return _page(
        "Safeguarding concern",
        '<p><a href="/inbox">Back to the inbox</a></p><h1>Safeguarding concern</h1>'
        "<dl>"
        + "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
        + "</dl>"
        + "".join(
            f"<h2>{_words(name.removesuffix('_text'))}</h2><p>{escape(str(text))}</p>"
            for name, text in texts.items()
            if text is not None
        )
        + forms
        + f'<h2>Timeline</h2><ol class="timeline">{"".join(entries)}</ol>',
    )
