"""The alliance dashboard: the main published figures per partner and month of a financial
year, as at a published cut-off, as one server-rendered page with inline SVG charts. No
script, no external asset; every number on it is a published figure from reports.py (rounded,
on the grid), nothing worked out anew."""

from __future__ import annotations

from html import escape

from services.reporting.suppression import SUPPRESSED

COLOURS = ("#1b6ca8", "#c8553d", "#3a7d44", "#8e5572", "#d4a017", "#5c6b73")
BAR_WIDTH = 18
CHART_HEIGHT = 140


def _series(table: dict, partners: list[str], months: list[str]) -> dict[str, list]:
    """partner -> published monthly totals of a partner x month table."""
    found = {(row["partner_id"], row["month"]): row["total"] for row in table["rows"]}
    return {p: [found.get((p, m), 0) for m in months] for p in partners}


def bar_chart(title: str, series: dict[str, list], months: list[str], unit: str = "") -> str:
    """Grouped bars, one group per month, one bar per partner; a hidden figure is a hatched
    stub marked '*'."""
    values = [v for vs in series.values() for v in vs if isinstance(v, int | float)]
    top = max(values + [1])
    partners = list(series)
    group = BAR_WIDTH * len(partners) + 12
    width = 50 + group * len(months)
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}"'
        f' height="{CHART_HEIGHT + 40}" viewBox="0 0 {width} {CHART_HEIGHT + 40}">',
        '<defs><pattern id="hidden" width="6" height="6" patternUnits="userSpaceOnUse">'
        '<path d="M0,6 L6,0" stroke="#888" stroke-width="1"/></pattern></defs>',
        f'<line x1="45" y1="{CHART_HEIGHT}" x2="{width}" y2="{CHART_HEIGHT}" stroke="#444"/>',
        f'<text x="40" y="12" text-anchor="end" font-size="10">{_number(top)}{unit}</text>',
    ]
    for m, month in enumerate(months):
        x0 = 50 + m * group
        for p, partner in enumerate(partners):
            value = series[partner][m]
            x = x0 + p * BAR_WIDTH
            label = f"{partner} {month}: {value}{unit if value != SUPPRESSED else ''}"
            if value == SUPPRESSED:
                parts.append(
                    f'<rect x="{x}" y="{CHART_HEIGHT - 12}" width="{BAR_WIDTH - 3}" height="12"'
                    f' fill="url(#hidden)" stroke="#888"><title>{escape(label)}'
                    " (too few to publish)</title></rect>"
                    f'<text x="{x + 7}" y="{CHART_HEIGHT - 15}" font-size="10"'
                    ' text-anchor="middle">*</text>'
                )
                continue
            height = 0 if not value else max(1, round(CHART_HEIGHT * value / top))
            parts.append(
                f'<rect x="{x}" y="{CHART_HEIGHT - height}" width="{BAR_WIDTH - 3}"'
                f' height="{height}" fill="{COLOURS[p % len(COLOURS)]}">'
                f"<title>{escape(label)}</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + group / 2 - 6}" y="{CHART_HEIGHT + 14}" font-size="10"'
            f' text-anchor="middle">{month[2:]}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _number(value) -> str:
    return f"{value:,.0f}" if isinstance(value, int | float) else str(value)


def _cell(value) -> str:
    if value is None:
        return '<td class="none">–</td>'
    if value == SUPPRESSED:
        return '<td class="hidden" title="too few to publish">*</td>'
    return f"<td>{escape(_number(value) if isinstance(value, int) else str(value))}</td>"


def _legend(partners: list[str]) -> str:
    return "".join(
        f'<span class="key"><i style="background:{COLOURS[i % len(COLOURS)]}"></i>'
        f"{escape(p)}</span>"
        for i, p in enumerate(partners)
    )


def render(
    *,
    partners: list[str],
    months: list[str],
    referrals: dict,
    sessions: dict,
    attendance: dict,
    contacts: dict,
    wellbeing: dict,
    as_at: str,
    year: str,
    disclosure: dict,
) -> str:
    referral_series = _series(referrals["tables"][0], partners, months)
    session_series = _series(sessions["tables"][0], partners, months)
    dna = {
        (row["partner_id"], row["month"]): row["did_not_attend_rate"]
        for row in attendance["tables"][0]["rows"]
    }
    contact_rows = {row["partner_id"]: row for row in contacts["tables"][0]["rows"]}
    wellbeing_rows = {row["partner_id"]: row for row in wellbeing["tables"][0]["rows"]}
    summary = []
    for partner in partners:
        c = contact_rows.get(partner, {"counts": {}})
        w = wellbeing_rows.get(partner, {"counts": {}})
        summary.append(
            f"<tr><th>{escape(partner)}</th>"
            + _cell(c["counts"].get("two_or_more_contacts"))
            + _cell(w.get("total"))
            + _cell(w.get("improved_share"))
            + _cell(w.get("mean_change"))
            + "</tr>"
        )
    dna_rows = "".join(
        f"<tr><th>{escape(partner)}</th>"
        + "".join(_cell(dna.get((partner, month))) for month in months)
        + "</tr>"
        for partner in partners
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Peerlink alliance dashboard</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d1d1d; }}
h1 {{ font-size: 1.4rem; margin-bottom: 0.2rem; }}
.meta {{ color: #555; font-size: 0.85rem; margin-bottom: 1rem; }}
section {{ margin: 1rem 0 1.6rem; }}
h2 {{ font-size: 1.05rem; margin: 0 0 0.4rem; }}
table {{ border-collapse: collapse; font-size: 0.85rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }}
th {{ background: #f2f2f2; text-align: left; }}
td.hidden {{ background: repeating-linear-gradient(45deg,#eee,#eee 4px,#fff 4px,#fff 8px); }}
.key {{ margin-right: 1rem; font-size: 0.85rem; }}
.key i {{ display: inline-block; width: 0.8rem; height: 0.8rem; margin-right: 0.3rem; }}
</style></head>
<body>
<h1>Peerlink alliance dashboard</h1>
<p class="meta">Figures published as at {escape(as_at)}, financial year {escape(year)}
({escape(months[0])} to {escape(months[-1])}). Counts are rounded to multiples of
{disclosure["round_to"]} and totals are sums of rounded counts; a median, a mean or a share over
{disclosure["up_to"]} or fewer shows as *.</p>
<p>{_legend(partners)}</p>
<section><h2>Referrals received per month</h2>
{bar_chart("Referrals received per month", referral_series, months)}</section>
<section><h2>Sessions held per month</h2>
{bar_chart("Sessions held per month", session_series, months)}</section>
<section><h2>Did-not-attend rate (%) per month</h2>
<table><tr><th>partner</th>{"".join(f"<th>{escape(m)}</th>" for m in months)}</tr>
{dna_rows}</table></section>
<section><h2>People, outcomes</h2>
<table><tr><th>partner</th><th>people with 2+ contacts (the year)</th>
<th>people with two SWEMWBS</th><th>improved (%)</th><th>mean change</th></tr>
{"".join(summary)}</table></section>
</body></html>
"""
