"""Campaign reports: one HTML page an analyst reads at a glance, JSON, GraphML and CSV.

:func:`write_report` writes into one directory::

    report.html     the campaigns side by side first (cards: accounts, posts, active period,
                    languages, top narratives, texts, links and hashtags with counts, a small
                    volume curve); then per campaign a volume timeline, a network picture, a
                    sortable accounts table, its narratives and the evidence behind its edges.
                    Ukrainian and English (a button switches; Ukrainian without script).
                    Pictures are inline SVG drawn here, the script a few lines inline: no
                    external asset, works offline. Every text from outside is escaped.
    report.json     the detection result (:func:`viche.monitor.api.result_to_dict`) + alerts
    network.graphml accounts as nodes (campaign, score, flagged), edges with weight, score,
                    behaviours and evidence count
    campaigns.csv, accounts.csv, edges.csv, evidence.csv, narratives.csv, posts.csv
                    the tables of :mod:`viche.monitor.api`

The report is a view of a detection result: it never detects. The posts are read once, as a
stream (:class:`ReportView` keeps counters per campaign and account, and only the posts the
report cites), so its memory grows with the campaigns' distinct links, hashtags and texts, not
with the number of posts: pass a generator (``viche monitor report`` streams the store).

Network picture: a campaign of hundreds of accounts cannot be drawn account by account and
stay legible, so the picture keeps the :data:`NETWORK_NODES` accounts with the most
co-actions (weighted degree) and the strongest :data:`NETWORK_EDGES` edges among them; the
caption says how many are left out (all are in ``network.graphml`` and the accounts table).
"""

from __future__ import annotations

import html
import io
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import networkx as nx

from viche.errors import Location, MonitorError
from viche.monitor import api
from viche.monitor.model import Campaign, DetectionResult, Edge, Narrative, Post
from viche.monitor.text import guess_language, normalise, normalise_hashtag, normalise_url

MAX_EVIDENCE_SHOWN = 50  # per edge in the HTML; the CSV and JSON keep all of it
MAX_POSTS_SHOWN = 5  # representative posts per narrative
MAX_EDGES_SHOWN = 200  # per campaign in the HTML, strongest first
NETWORK_NODES = 60  # accounts drawn in a campaign's network picture (most co-actions first)
NETWORK_EDGES = 400  # edges drawn among them (strongest first)
NETWORK_LABELS = 6  # of which named on the picture (every node has its name as a tooltip)
#: a counter of links / hashtags / texts that grows past this many keys drops its keys seen
#: once (their count stays exact for keys seen more often before the pruning)
COUNTER_LIMIT = 20_000
TOP = 5


#: what XML 1.0 cannot hold (GraphML is XML): controls but tab and new lines, surrogates,
#: U+FFFE and U+FFFF
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(text: str) -> str:
    """``text`` with each character XML cannot hold written as its escape (``\\x1b``)."""
    return _NOT_XML.sub(lambda m: repr(m.group())[1:-1], text)


def network(result: DetectionResult) -> nx.Graph[str]:
    """Accounts (and the edges between them) of every campaign, attributes as scalars;
    account ids from outside are made XML text (:func:`_xml`), the same in nodes and edges."""
    graph: nx.Graph[str] = nx.Graph()
    scores = {a.author_id: a for a in result.accounts}
    for c in result.campaigns:
        for acc in c.accounts:
            s = scores.get(acc)
            graph.add_node(
                _xml(acc),
                label=_xml(acc),
                campaign=c.id,
                score=float(s.score) if s else 0.0,
                flagged=bool(s.flagged) if s else True,
            )
        for e in c.edges:
            graph.add_edge(
                _xml(e.account_a),
                _xml(e.account_b),
                campaign=c.id,
                weight=float(e.weight),
                expected=float(e.expected),
                score=float(e.score),
                behaviours=" ".join(b.value for b in e.behaviours),
                n_evidence=len(e.evidence),
            )
    return graph


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _link(url: str) -> str:
    """A link from outside data: clickable only when it is http(s) (never ``javascript:``)."""
    if url.lower().startswith(("https://", "http://")):
        return f'<a href="{_e(url)}" rel="noreferrer">{_e(url)}</a>'
    return _e(url)


def _t(uk: str, en: str) -> str:
    """A label in both languages (the page shows one; the button switches)."""
    return f'<span class="uk">{uk}</span><span class="en">{en}</span>'


# -- aggregation: one pass over the posts ----------------------------------------------------
def _prune(counter: Counter[Any]) -> None:
    if len(counter) > COUNTER_LIMIT:
        for key in [k for k, n in counter.items() if n < 2]:
            del counter[key]


#: language names some sources give instead of codes (Twitter exports: "English", "Russian")
_LANGUAGE_CODES = {
    "english": "en", "ukrainian": "uk", "russian": "ru", "german": "de", "french": "fr",
    "spanish": "es", "italian": "it", "polish": "pl", "arabic": "ar",
    "language undefined": "",
}  # fmt: skip


def _language(lang: str) -> str:
    """A language as its code where the name is known ("English" and "en" count together)."""
    key = lang.strip().lower()
    return _LANGUAGE_CODES.get(key, key)


@dataclass(frozen=True, slots=True)
class PushedSummary:
    """What a campaign's accounts posted, counted: the first thing an analyst reads."""

    posts: int
    first: datetime | None
    last: datetime | None
    languages: tuple[tuple[str, int], ...]
    links: tuple[tuple[str, int], ...]
    hashtags: tuple[tuple[str, int], ...]
    texts: tuple[tuple[str, int], ...]


@dataclass(slots=True)
class _Tally:
    """Running counts over one campaign's posts."""

    posts: int = 0
    first: datetime | None = None
    last: datetime | None = None
    days: Counter[int] = field(default_factory=Counter)
    langs: Counter[str] = field(default_factory=Counter)
    links: Counter[str] = field(default_factory=Counter)
    tags: Counter[str] = field(default_factory=Counter)
    texts: Counter[str] = field(default_factory=Counter)
    shown: dict[str, str] = field(default_factory=dict)

    def add(self, p: Post) -> None:
        self.posts += 1
        self.first = p.created_at if self.first is None else min(self.first, p.created_at)
        self.last = p.created_at if self.last is None else max(self.last, p.created_at)
        self.days[p.created_at.date().toordinal()] += 1
        self.langs[_language(p.lang) or guess_language(p.text) or "?"] += 1
        # a link cut to "https://t…" normalises to "t": no host, not a link worth counting
        self.links.update({k for k in map(normalise_url, p.urls) if "." in k.split("/")[0]})
        self.tags.update({t for t in (normalise_hashtag(h) for h in p.hashtags) if t})
        key = normalise(p.text)
        if len(key) >= 20:
            self.texts[key] += 1
            self.shown.setdefault(key, p.text)  # the first wording seen
        for c in (self.links, self.tags, self.texts):
            if len(c) > COUNTER_LIMIT:
                _prune(c)
                if c is self.texts:
                    self.shown = {k: v for k, v in self.shown.items() if k in c}

    def summary(self, top: int = TOP) -> PushedSummary:
        def best(c: Counter[str], k: int) -> tuple[tuple[str, int], ...]:
            return tuple(sorted(c.items(), key=lambda t: (-t[1], t[0]))[:k])

        return PushedSummary(
            posts=self.posts,
            first=self.first,
            last=self.last,
            languages=best(self.langs, 10),
            links=best(self.links, top),
            hashtags=best(self.tags, top),
            texts=tuple(
                (" ".join(self.shown[t].split()), k) for t, k in best(self.texts, 3) if k > 1
            ),
        )


def pushed_summary(posts: Iterable[Post], top: int = TOP) -> PushedSummary:
    """Counts over a campaign's posts: languages, links (normalised), hashtags, and texts
    (equal once normalised), the most frequent first (ties by value)."""
    tally = _Tally()
    for p in posts:
        tally.add(p)
    return tally.summary(top)


@dataclass(slots=True)
class AccountLine:
    """One row of a campaign's accounts table."""

    posts: int = 0
    first: datetime | None = None
    last: datetime | None = None


@dataclass(frozen=True, slots=True)
class CampaignView:
    """What the page shows of one campaign, computed from its posts."""

    campaign: Campaign
    summary: PushedSummary
    days: tuple[tuple[int, int], ...]  # (date ordinal, posts), in date order
    accounts: Mapping[str, AccountLine]


@dataclass(frozen=True, slots=True)
class ReportView:
    """A detection result and what its campaigns' posts add to it, for the page."""

    result: DetectionResult
    campaigns: tuple[CampaignView, ...]
    cited: Mapping[str, Post]  # the posts the report cites (evidence, narratives, examples)


def build_view(result: DetectionResult, posts: Iterable[Post]) -> ReportView:
    """Read ``posts`` once (any order; posts of other accounts are skipped) and keep the
    counts the page needs and the posts it cites."""
    campaign_of: dict[str, int] = {}
    for i, c in enumerate(result.campaigns):
        for a in c.accounts:
            campaign_of.setdefault(a, i)
    cited_ids = {pid for c in result.campaigns for pid in api.campaign_post_ids(c)}
    tallies = [_Tally() for _ in result.campaigns]
    lines: list[dict[str, AccountLine]] = [{} for _ in result.campaigns]
    cited: dict[str, Post] = {}
    for p in posts:
        if p.id in cited_ids:
            cited[p.id] = p
        k = campaign_of.get(p.author)
        if k is None:
            continue
        tallies[k].add(p)
        line = lines[k].get(p.author)
        if line is None:
            line = lines[k][p.author] = AccountLine()
        line.posts += 1
        line.first = p.created_at if line.first is None else min(line.first, p.created_at)
        line.last = p.created_at if line.last is None else max(line.last, p.created_at)
    views = tuple(
        CampaignView(
            campaign=c,
            summary=tallies[i].summary(),
            days=tuple(sorted(tallies[i].days.items())),
            accounts=lines[i],
        )
        for i, c in enumerate(result.campaigns)
    )
    return ReportView(result=result, campaigns=views, cited=cited)


# -- pictures: inline SVG ---------------------------------------------------------------------
def _binned(days: Sequence[tuple[int, int]]) -> tuple[list[tuple[int, int]], int]:
    """Posts per day, or per week when the span is long (> 180 days): (start ordinal, posts)."""
    if not days:
        return [], 1
    lo, hi = days[0][0], days[-1][0]
    step = 1 if hi - lo <= 180 else 7
    bins: Counter[int] = Counter()
    for d, n in days:
        bins[lo + (d - lo) // step * step] += n
    return [(lo + k * step, bins.get(lo + k * step, 0)) for k in range((hi - lo) // step + 1)], step


def timeline_svg(days: Sequence[tuple[int, int]], *, width: int = 900, height: int = 140) -> str:
    """Posts per day (per week for long campaigns) as bars, with the dates and the peak."""
    bins, step = _binned(days)
    if not bins:
        return f'<p class="muted">{_t("немає дописів у сховищі", "no posts in the store")}</p>'
    top = max(n for _, n in bins) or 1
    left, plot_h = 40, height - 32
    bar = (width - left - 5) / len(bins)
    rects = []
    for i, (d, n) in enumerate(bins):
        if n == 0:
            continue
        h = max(1.0, plot_h * n / top)
        label = date.fromordinal(d).isoformat()
        rects.append(
            f'<rect x="{left + i * bar:.1f}" y="{10 + plot_h - h:.1f}" '
            f'width="{max(bar - 0.5, 0.8):.1f}" height="{h:.1f}">'
            f"<title>{_e(label)}: {n}</title></rect>"
        )
    first = date.fromordinal(bins[0][0]).isoformat()
    last = date.fromordinal(bins[-1][0] + step - 1).isoformat()
    unit = (
        _t("дописів за день", "posts per day")
        if step == 1
        else _t("дописів за тиждень", "posts per week")
    )
    return (
        f'<figure class="timeline"><svg viewBox="0 0 {width} {height}" role="img" '
        f'preserveAspectRatio="none"><g class="bars">{"".join(rects)}</g>'
        f'<line x1="{left}" y1="{10 + plot_h}" x2="{width}" y2="{10 + plot_h}" class="axis"/>'
        f'<text x="{left - 4}" y="18" text-anchor="end">{top}</text>'
        f'<text x="{left - 4}" y="{10 + plot_h}" text-anchor="end">0</text>'
        f'<text x="{left}" y="{height - 4}">{_e(first)}</text>'
        f'<text x="{width}" y="{height - 4}" text-anchor="end">{_e(last)}</text>'
        f"</svg><figcaption>{unit}</figcaption></figure>"
    )


def sparkline_svg(days: Sequence[tuple[int, int]], *, width: int = 260, height: int = 36) -> str:
    """The volume curve of a campaign card (no axes)."""
    bins, _ = _binned(days)
    if len(bins) < 2:
        return ""
    top = max(n for _, n in bins) or 1
    pts = " ".join(
        f"{width * i / (len(bins) - 1):.1f},{height - 2 - (height - 4) * n / top:.1f}"
        for i, (_, n) in enumerate(bins)
    )
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
        f'role="img"><polyline points="{pts}"/></svg>'
    )


def strengths(campaign: Campaign) -> dict[str, tuple[int, float]]:
    """Per account of the campaign: (edges, co-actions summed over its edges)."""
    out: dict[str, tuple[int, float]] = dict.fromkeys(campaign.accounts, (0, 0.0))
    for e in campaign.edges:
        for a in (e.account_a, e.account_b):
            k, w = out.get(a, (0, 0.0))
            out[a] = (k + 1, w + e.weight)
    return out


def _unit_layout(graph: nx.Graph[str]) -> dict[str, tuple[float, float]]:
    """One connected component laid out in the unit square (spring model, fixed seed)."""
    n = graph.number_of_nodes()
    if n == 1:
        return {next(iter(graph.nodes)): (0.5, 0.5)}
    laid = nx.spring_layout(graph, seed=7, k=2.0 / n**0.5, iterations=100, weight=None)
    xs = [float(v[0]) for v in laid.values()]
    ys = [float(v[1]) for v in laid.values()]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
    ox = (1 - (max(xs) - min(xs)) / span) / 2
    oy = (1 - (max(ys) - min(ys)) / span) / 2
    return {
        str(k): (ox + (float(v[0]) - min(xs)) / span, oy + (float(v[1]) - min(ys)) / span)
        for k, v in laid.items()
    }


def _layout(graph: nx.Graph[str], size: int) -> dict[str, tuple[float, float]]:
    """Positions in a ``size`` square: the largest connected component on the left (all of
    the square when it is alone), the others stacked in a column on the right, each scaled
    to its own cell (a spring layout of the whole would push small components far away and
    squeeze the big one into a dot)."""
    parts = sorted(
        (sorted(c) for c in nx.connected_components(graph)), key=lambda c: (-len(c), c[0])
    )
    pad = 24.0
    cells: list[tuple[float, float, float]] = []  # x, y, side
    if len(parts) == 1:
        cells.append((pad, pad, size - 2 * pad))
    else:
        main = (size - 2 * pad) * 0.72
        cells.append((pad, pad + (size - 2 * pad - main) / 2, main))
        rest = parts[1:]
        total = sum(len(c) ** 0.5 for c in rest)
        y = pad
        for c in rest:
            side = min((size - 2 * pad) * len(c) ** 0.5 / total, size - 3 * pad - main)
            cells.append((2 * pad + main, y, side))
            y += side
    out: dict[str, tuple[float, float]] = {}
    for nodes, (x0, y0, side) in zip(parts, cells, strict=True):
        for node, (u, v) in _unit_layout(graph.subgraph(nodes)).items():
            out[node] = (x0 + u * side, y0 + v * side)
    return out


def network_svg(campaign: Campaign, *, size: int = 460) -> str:
    """The campaign's most connected accounts and the strongest edges among them."""
    strength = strengths(campaign)
    linked = sorted((a for a, (k, _) in strength.items() if k > 0),
                    key=lambda a: (-strength[a][1], a))  # fmt: skip
    shown = linked[:NETWORK_NODES]
    keep = set(shown)
    edges = sorted(
        (e for e in campaign.edges if e.account_a in keep and e.account_b in keep),
        key=lambda e: (-e.weight, e.account_a, e.account_b),
    )[:NETWORK_EDGES]
    n_all = len(strength)
    caption = _t(
        f"{len(shown)} з {n_all} акаунтів (найбільше спільних дій), {len(edges)} з "
        f"{len(campaign.edges)} зв’язків; усі — у таблиці акаунтів і network.graphml",
        f"{len(shown)} of {n_all} accounts (most co-actions), {len(edges)} of "
        f"{len(campaign.edges)} edges; all of them in the accounts table and network.graphml",
    )
    if not shown:
        return f'<figure class="net"><figcaption>{caption}</figcaption></figure>'
    graph: nx.Graph[str] = nx.Graph()
    graph.add_nodes_from(shown)
    for e in edges:
        graph.add_edge(e.account_a, e.account_b, weight=e.weight)
    at = _layout(graph, size)
    top_w = max((e.weight for e in edges), default=1.0) or 1.0
    top_s = max(strength[a][1] for a in shown) or 1.0
    lines = []
    for e in edges:
        (x1, y1), (x2, y2) = at[e.account_a], at[e.account_b]
        lines.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke-width="{0.4 + 3 * e.weight / top_w:.2f}" '
            f'stroke-opacity="{0.15 + 0.6 * e.weight / top_w:.2f}"/>'
        )
    dots = []
    for rank, a in enumerate(shown):
        x, y = at[a]
        k, w = strength[a]
        r = 2.5 + 5 * math.sqrt(w / top_s)
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}"><title>{_e(a)}: {k} '
            f"edges, {w:g} co-actions</title></circle>"
        )
        if rank < NETWORK_LABELS:
            dots.append(f'<text x="{x + r + 2:.1f}" y="{y + 3:.1f}">{_e(a)}</text>')
    return (
        f'<figure class="net"><svg viewBox="0 0 {size} {size}" role="img">'
        f'<g class="edges">{"".join(lines)}</g><g class="nodes">{"".join(dots)}</g></svg>'
        f"<figcaption>{caption}</figcaption></figure>"
    )


# -- HTML --------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,sans-serif;margin:1em 1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.2em;border-top:2px solid #ccc;padding-top:.6em}
h3{font-size:1em;margin:.8em 0 .3em}table{border-collapse:collapse;margin:.4em 0;font-size:.85em}
td,th{border:1px solid #ddd;padding:.2em .45em;text-align:left;vertical-align:top}
th{background:#f0f0f0}.muted{color:#666}.score{font-weight:bold;color:#a00}
body:not(.en) .en{display:none}body.en .uk{display:none}
#lang{float:right;font-size:.9em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(21em,1fr));gap:.8em}
.card{background:#fff;border:1px solid #ccc;border-radius:6px;padding:.6em .8em;font-size:.85em;
overflow-wrap:anywhere}
.card h3{margin:0 0 .3em;font-size:1.05em}.card ol{margin:.1em 0 .3em 1.2em;padding:0}
.card .k{color:#555;font-weight:600;margin-top:.3em}.badge{background:#fde2a0;border-radius:3px;
padding:0 .3em;font-size:.8em}
.spark{width:100%;height:36px}.spark polyline{fill:none;stroke:#b03030;stroke-width:1.5}
section.campaign{background:#fff;border:1px solid #ddd;padding:.2em 1em 1em;margin:1.2em 0}
.pics{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
.left{flex:2 1 40em}.timeline{margin:0}.timeline svg{width:100%;height:140px}
.timeline rect{fill:#b03030}.timeline text,.net text{font-size:10px;fill:#333}
.axis{stroke:#999}.net text{paint-order:stroke;stroke:#fff;stroke-width:3px}
.net{flex:1 1 24em;margin:0;max-width:460px}.net svg{width:100%}
.net line{stroke:#555}.net circle{fill:#b03030;fill-opacity:.85}
figcaption{font-size:.8em;color:#555}
table.sortable th{cursor:pointer}table.sortable th::after{content:" \\2195";color:#aaa}
details{margin:.3em 0}blockquote{margin:.2em 0 .2em 1em;color:#333;overflow-wrap:anywhere}
.scroll{max-height:30em;overflow:auto}
"""

# Sorting the accounts tables and switching the language; opening the evidence linked to.
_JS = """
document.getElementById('lang').onclick=function(){document.body.classList.toggle('en')};
document.querySelectorAll('table.sortable').forEach(function(t){
 t.querySelectorAll('th').forEach(function(th,i){th.onclick=function(){
  var b=t.tBodies[0],r=Array.from(b.rows),d=th.dataset.dir==='a'?-1:1;th.dataset.dir=d>0?'a':'d';
  r.sort(function(x,y){var p=x.cells[i].dataset.v||x.cells[i].textContent,
   q=y.cells[i].dataset.v||y.cells[i].textContent,m=parseFloat(p),n=parseFloat(q);
   return d*(isNaN(m)||isNaN(n)?p.localeCompare(q):m-n)});
  r.forEach(function(x){b.appendChild(x)})}})});
function openHash(){var e=document.getElementById(location.hash.slice(1));
 for(;e;e=e.parentElement){if(e.tagName==='DETAILS')e.open=true}}
window.addEventListener('hashchange',openHash);openHash();
"""


def _items(rows: Sequence[tuple[str, int]]) -> str:
    if not rows:
        return '<span class="muted">—</span>'
    return ", ".join(f"{_e(v)} <b>×{k}</b>" for v, k in rows)


def _period(first: datetime | None, last: datetime | None) -> str:
    return " – ".join(f"{t:%Y-%m-%d}" for t in (first, last) if t is not None) or "—"


def _summary_html(s: PushedSummary) -> str:
    """The summary table, headed in Ukrainian and English."""
    period = " – ".join(f"{t:%Y-%m-%d %H:%M}" for t in (s.first, s.last) if t is not None)
    rows = [
        (_t("Дописи", "Posts"), f"{s.posts}; {_e(period or '—')} UTC"),
        (_t("Мови", "Languages"), _items(s.languages)),
        (_t("Посилання", "Links"), _items(s.links)),
        (_t("Хештеги", "Hashtags"), _items(s.hashtags)),
        (_t("Тексти, що повторювались", "Repeated texts"), _items(s.texts)),
    ]
    body = "".join(f"<tr><th>{h}</th><td>{v}</td></tr>" for h, v in rows)
    return f"<h3>{_t('Що поширювала', 'What it pushed')}</h3><table>{body}</table>"


def _short(text: str, limit: int = 110) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _ranked(rows: Sequence[tuple[str, int]], limit: int = 3, chars: int = 110) -> str:
    if not rows:
        return '<p class="muted">—</p>'
    return (
        "<ol>"
        + "".join(f"<li>{_e(_short(v, chars))} <b>×{k}</b></li>" for v, k in rows[:limit])
        + "</ol>"
    )


def _card_narratives(narratives: Sequence[Narrative], limit: int) -> str:
    """A card's top narratives, each named by its own posts' text; the nearest known case,
    when one reached the threshold, below it as a hint (the match is a topic hint to check,
    not a verdict: ``docs/monitor-detection.md``), never in its place."""
    if not narratives:
        return '<p class="muted">—</p>'
    items = []
    for n in narratives[:limit]:
        hint = ""
        if n.known_case:
            case = _short(n.known_case_title or n.known_case, 90)
            hint = (
                f'<br><span class="muted">≈ {_t("відомий випадок", "known case")} '
                f"“{_e(case)}” ({n.known_case_similarity:.2f})</span>"
            )
        items.append(f"<li>{_e(_short(n.label, 110))} <b>×{len(n.post_ids)}</b>{hint}</li>")
    return "<ol>" + "".join(items) + "</ol>"


def _card(i: int, v: CampaignView, badges: Sequence[str]) -> str:
    c, s = v.campaign, v.summary
    langs = ", ".join(
        f"{_e(k)} {n * 100 // max(s.posts, 1)}%"
        for k, n in s.languages[:3]
        if n * 100 >= max(s.posts, 1)  # 1 % or more
    )
    badge = "".join(f' <span class="badge">{b}</span>' for b in badges)
    return (
        f'<div class="card"><h3><a href="#c{i}">{_e(c.id)}</a>{badge}</h3>'
        f"<div><b>{len(c.accounts)}</b> {_t('акаунтів', 'accounts')} · <b>{s.posts}</b> "
        f"{_t('дописів', 'posts')} · {_t('оцінка', 'score')} <b>{c.score:.2f}</b></div>"
        f"<div>{_e(_period(s.first, s.last))} · {langs or '—'}</div>"
        f"{sparkline_svg(v.days)}"
        f'<div class="k">{_t("Наративи", "Narratives")}</div>{_card_narratives(c.narratives, 2)}'
        f'<div class="k">{_t("Тексти", "Texts")}</div>{_ranked(s.texts, 2)}'
        f'<div class="k">{_t("Посилання", "Links")}</div>{_ranked(s.links, 3, 60)}'
        f'<div class="k">{_t("Хештеги", "Hashtags")}</div>{_ranked(s.hashtags, 3, 40)}'
        f'<a href="#ev{i}">{_t("докази", "evidence")} →</a></div>'
    )


def _distinct_posts(post_ids: Sequence[str], by_id: Mapping[str, Post]) -> list[str]:
    """Up to MAX_POSTS_SHOWN posts with different texts, oldest first, with repeat counts."""
    groups: dict[str, list[Post]] = {}
    for pid in post_ids:
        p = by_id.get(pid)
        if p is not None:
            groups.setdefault(" ".join(p.text.split()), []).append(p)
    firsts = [(min(g, key=lambda p: (p.created_at, p.id)), len(g)) for g in groups.values()]
    out = []
    for p, count in sorted(firsts, key=lambda t: (t[0].created_at, t[0].id))[:MAX_POSTS_SHOWN]:
        more = (
            f" <span class='muted'>(+{count - 1} {_t('з цим текстом', 'more with this text')})"
            "</span>"
            if count > 1
            else ""
        )
        out.append(
            f"<blockquote>{_e(p.author)} {_e(p.created_at.isoformat())} [{_e(p.id)}]: "
            f"{_e(p.text)}{more}</blockquote>"
        )
    return out


def _accounts_table(i: int, v: CampaignView, scores: Mapping[str, float],
                    edge_anchor: Mapping[str, str]) -> str:  # fmt: skip
    strength = strengths(v.campaign)
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            _t("акаунт", "account"),
            _t("оцінка", "score"),
            _t("зв’язки", "edges"),
            _t("спільні дії", "co-actions"),
            _t("дописи", "posts"),
            _t("перший", "first"),
            _t("останній", "last"),
            _t("доказ", "evidence"),
        )
    )
    rows = []
    order = sorted(v.campaign.accounts, key=lambda a: (-strength.get(a, (0, 0.0))[1], a))
    for a in order:
        k, w = strength.get(a, (0, 0.0))
        line = v.accounts.get(a, AccountLine())
        anchor = edge_anchor.get(a)
        link = f'<a href="#{anchor}">→</a>' if anchor else ""
        rows.append(
            f"<tr><td>{_e(a)}</td><td>{scores.get(a, 0.0):.2f}</td><td>{k}</td><td>{w:g}</td>"
            f"<td>{line.posts}</td><td>{_e(f'{line.first:%Y-%m-%d}' if line.first else '')}</td>"
            f"<td>{_e(f'{line.last:%Y-%m-%d}' if line.last else '')}</td><td>{link}</td></tr>"
        )
    return (
        f"<details><summary>{_t('Акаунти', 'Accounts')} ({len(order)})</summary>"
        f'<div class="scroll"><table class="sortable" id="acc{i}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></details>"
    )


def _edge_html(anchor: str, e: Edge) -> str:
    summary = (f"{_e(e.account_a)} — {_e(e.account_b)}: {e.weight:g} co-actions "
               f"(expected by chance {e.expected:.2f}, score {e.score:.2f}; "
               f"{_e(', '.join(b.value for b in e.behaviours))})")  # fmt: skip
    rows = "".join(
        f"<tr><td>{_e(p.behaviour.value)}</td><td>{_e(p.post_a)}</td>"
        f"<td>{_e(p.time_a.isoformat())}</td><td>{_e(p.post_b)}</td>"
        f"<td>{_e(p.time_b.isoformat())}</td>"
        f"<td>{abs((p.time_b - p.time_a).total_seconds()):g}</td><td>{_e(p.key)}</td></tr>"
        for p in e.evidence[:MAX_EVIDENCE_SHOWN]
    )
    more = len(e.evidence) - MAX_EVIDENCE_SHOWN
    tail = f'<p class="muted">… {more} more pairs in evidence.csv</p>' if more > 0 else ""
    return (
        f'<details id="{anchor}"><summary>{summary}</summary><table><tr><th>behaviour</th>'
        f"<th>post A</th><th>time A</th><th>post B</th><th>time B</th><th>lag (s)</th>"
        f"<th>key</th></tr>{rows}</table>{tail}</details>"
    )


def _campaign_html(i: int, v: CampaignView, by_id: Mapping[str, Post],
                   scores: Mapping[str, float]) -> str:  # fmt: skip
    c = v.campaign
    parts = [
        f'<section class="campaign" id="c{i}"><h2>{_t("Кампанія", "Campaign")} {_e(c.id)} '
        f'<span class="score">{_t("оцінка", "score")} {c.score:.2f}</span></h2>',
        f"<p>{len(c.accounts)} {_t('акаунтів', 'accounts')}; "
        f"{_t('спільні дії', 'co-actions')} {_e(_period(c.first_seen, c.last_seen))}</p>",
        f'<div class="pics"><div class="left">{timeline_svg(v.days)}'
        f"{_summary_html(v.summary)}</div>{network_svg(c)}</div>",
        f"<h3>{_t('Чому', 'Why')}</h3><ul>"
        + "".join(f"<li>{_e(r)}</li>" for r in c.reasons)
        + "</ul>",
    ]
    if c.outlets:
        parts.append(f"<p><b>{_t('Видання', 'Outlets')}:</b> {_e(', '.join(c.outlets))}</p>")
    ranked = sorted(c.edges, key=lambda e: (-e.score, -e.weight, e.account_a, e.account_b))
    shown = ranked[:MAX_EDGES_SHOWN]
    anchors: dict[str, str] = {}
    for k, e in enumerate(shown):
        for a in (e.account_a, e.account_b):
            anchors.setdefault(a, f"e{i}-{k}")
    parts.append(_accounts_table(i, v, scores, anchors))
    if c.associated:
        quoted: dict[str, list[str]] = {}
        for a, pid in c.associated_posts:
            p = by_id.get(pid)
            if p is not None:
                quoted.setdefault(a, []).append(
                    f"<blockquote>[{_e(pid)}] {_e(p.created_at.isoformat())}: "
                    f"{_e(_short(p.text, 200))}</blockquote>"
                )
        names = "".join(
            f"<details><summary>{_e(a)}"
            + (f" ({scores[a]:.2f})" if a in scores else "")
            + f"</summary>{''.join(quoted.get(a, []))}</details>"
            for a in c.associated
        )
        parts.append(
            f"<h3>{_t('Пов’язані акаунти', 'Associated accounts')} ({len(c.associated)})</h3>"
            '<p class="muted">'
            + _t(
                "не скоординовані: їхні дописи несуть власні рідкісні елементи цієї кампанії "
                "(хештеги, посилання, тексти) з будь-яким запізненням",
                "not coordinated: their posts carry this campaign's own rare items (hashtags, "
                "links, texts) at any time lag",
            )
            + f"</p>{names}"
        )
    parts.append(f"<h3>{_t('Наративи', 'Narratives')}</h3>")
    if not c.narratives:
        parts.append(
            '<p class="muted">'
            + _t("не знайдено (або не запитано)", "none found (or narratives were not requested)")
            + "</p>"
        )
    for n in c.narratives:
        known = ""
        if n.known_case:
            title = f"“{_e(n.known_case_title)}” " if n.known_case_title else ""
            known = (
                f" — {_t('найближчий відомий випадок', 'nearest known case')} {title}"
                f"{_link(n.known_case)}"
                f" ({_t('схожість', 'similarity')} {n.known_case_similarity:.2f})"
            )
        parts.append(
            f"<details><summary><b>{_e(n.id)}</b> ({len(n.post_ids)} "
            f"{_t('дописів', 'posts')}; {_e(', '.join(n.languages))}){known}<br>"
            f"{_e(n.label)}</summary>{''.join(_distinct_posts(n.post_ids, by_id))}</details>"
        )
    if c.representative_posts:
        parts.append(f"<h3>{_t('Характерні дописи', 'Representative posts')}</h3>")
        for pid in c.representative_posts[:MAX_POSTS_SHOWN]:
            p = by_id.get(pid)
            text = f"{p.author} {p.created_at.isoformat()}: {p.text}" if p else "(not in store)"
            parts.append(f"<blockquote>[{_e(pid)}] {_e(text)}</blockquote>")
    heading = _t("Докази: кожен зв’язок", "Evidence behind every edge")
    parts.append(f'<h3 id="ev{i}">{heading}</h3>')
    if len(ranked) > MAX_EDGES_SHOWN:
        parts.append(
            f'<p class="muted">the {MAX_EDGES_SHOWN} strongest of {len(ranked)} edges; '
            "all of them are in edges.csv and evidence.csv</p>"
        )
    parts.extend(_edge_html(f"e{i}-{k}", e) for k, e in enumerate(shown))
    parts.append("</section>")
    return "\n".join(parts)


_BADGES = {
    "new_campaign": ("нова", "new"),
    "campaign_grown": ("зросла", "grown"),
    "new_narrative": ("новий наратив", "new narrative"),
    "narrative_resurfaced": ("наратив повернувся", "narrative back"),
    "document_push": ("документ", "document push"),
}


def _alerts_html(alerts: Sequence[Mapping[str, Any]]) -> list[str]:
    """Alerts counted by kind, the list folded and grouped by kind: the cards already mark
    the campaigns they concern, so the page does not repeat every campaign as an alert."""
    if not alerts:
        return []
    counts = Counter(str(a.get("kind", "")) for a in alerts)
    line = ", ".join(f"{_e(k)} {n}" for k, n in sorted(counts.items()))
    groups = []
    for kind in sorted(counts):
        items = "".join(
            f"<li>{_e(a.get('message', ''))}</li>" for a in alerts if str(a.get("kind")) == kind
        )
        groups.append(f"<h3>{_e(kind)} ({counts[kind]})</h3><ul>{items}</ul>")
    return [
        f"<h2>{_t('Сповіщення', 'Alerts')} ({len(alerts)})</h2><p>{line}</p>"
        f"<details><summary>{_t('усі сповіщення', 'all alerts')}</summary>{''.join(groups)}"
        "</details>"
    ]


def _alert_campaigns(alert: Mapping[str, Any]) -> list[str]:
    """The campaigns an alert concerns: its ``campaigns`` (a narrative pushed by several)
    or else its ``campaign``."""
    many = alert.get("campaigns")
    if isinstance(many, list) and many:
        return [str(c) for c in many]
    return [str(alert["campaign"])] if alert.get("campaign") else []


def render_html(
    result: DetectionResult | ReportView,
    by_id: Mapping[str, Post] | Iterable[Post] = (),
    *,
    alerts: Sequence[Mapping[str, Any]] = (),
    title: str = "Viche — монітор впливу / influence monitor",
    generated: datetime | None = None,
) -> str:
    """The whole report as one self-contained HTML page (from a result and its posts, or
    from a :class:`ReportView` built beforehand)."""
    view = (
        result
        if isinstance(result, ReportView)
        else build_view(result, by_id.values() if isinstance(by_id, Mapping) else by_id)
    )
    res = view.result
    when = (generated or datetime.now(UTC)).isoformat(timespec="seconds")
    flagged = sum(1 for a in res.accounts if a.flagged)
    scores = {a.author_id: a.score for a in res.accounts}
    badges: dict[str, list[str]] = {}
    for a in alerts:
        kind = str(a.get("kind", ""))
        if kind not in _BADGES:
            continue
        label = _t(*_BADGES[kind])
        for cid in _alert_campaigns(a):
            if label not in badges.setdefault(cid, []):
                badges[cid].append(label)
    out = [
        "<!doctype html><html lang='uk'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        "<button id='lang' type='button'><span class='uk'>English</span>"
        "<span class='en'>Українська</span></button>",
        f"<h1>{_e(title)}</h1>",
        f"<p class='muted'>{_t('створено', 'generated')} {_e(when)}; {res.posts_seen} "
        f"{_t('дописів переглянуто', 'posts seen')}; {len(res.campaigns)} "
        f"{_t('кампаній', 'campaigns')}; {flagged} / {len(res.accounts)} "
        f"{_t('акаунтів позначено', 'accounts flagged')}</p>",
    ]
    if view.campaigns:
        out.append(f"<h2>{_t('Кампанії', 'Campaigns')}</h2><div class='cards'>")
        out.extend(_card(i, v, badges.get(v.campaign.id, ())) for i, v in enumerate(view.campaigns))
        out.append("</div>")
    else:
        none = _t("Скоординованих кампаній не знайдено.", "No coordinated campaign was found.")
        out.append(f"<p>{none}</p>")
    out.extend(_alerts_html(alerts))
    out.extend(_campaign_html(i, v, view.cited, scores) for i, v in enumerate(view.campaigns))
    out.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(out)


REPORT_FILES = (
    "report.html", "report.json", "network.graphml", "campaigns.csv", "accounts.csv",
    "edges.csv", "evidence.csv", "narratives.csv", "posts.csv",
)  # fmt: skip


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(
    result: DetectionResult,
    posts: Mapping[str, Post] | Iterable[Post],
    out_dir: str | Path,
    *,
    alerts: Sequence[Mapping[str, Any]] = (),
    generated: datetime | None = None,
) -> dict[str, Path]:
    """Write every output of the report into ``out_dir``; returns name -> path.

    ``posts`` is read once (a generator is fine): the campaigns' accounts' posts feed the
    counts and pictures, and the cited posts are kept for the page and ``posts.csv``.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MonitorError(
            f"cannot create the report directory: {exc}", where=Location(file=str(out))
        ) from exc
    view = build_view(result, posts.values() if isinstance(posts, Mapping) else posts)
    paths = {name: out / name for name in REPORT_FILES}
    tables = {
        "campaigns.csv": api.campaigns(result),
        "accounts.csv": api.accounts(result),
        "edges.csv": api.edges(result),
        "evidence.csv": api.evidence(result),
        "narratives.csv": api.narratives(result),
        "posts.csv": api.posts(result, view.cited),
    }
    for name, frame in tables.items():
        _write(paths[name], frame.to_csv(index=False))
    doc = api.result_to_dict(result)
    doc["alerts"] = [dict(a) for a in alerts]
    _write(paths["report.json"], json.dumps(doc, ensure_ascii=False, indent=1))
    buf = io.BytesIO()
    nx.write_graphml(network(result), buf)
    _write(paths["network.graphml"], buf.getvalue().decode("utf-8"))
    _write(paths["report.html"], render_html(view, alerts=alerts, generated=generated))
    return paths
