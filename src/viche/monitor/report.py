"""Campaign reports: one HTML page with plots, JSON, GraphML (for Gephi) and CSV.

:func:`write_report` writes into one directory::

    report.html     every campaign: score and reasons, accounts and outlets, narratives with
                    representative posts, a timeline plot, a network picture, and the evidence
                    behind every edge (the pairs of posts and their times); plots are PNG
                    embedded as base64, so the page has no external assets and works offline
    report.json     the detection result (:func:`viche.monitor.api.result_to_dict`) + alerts
    network.graphml accounts as nodes (campaign, score, flagged), edges with weight, score,
                    behaviours and evidence count
    campaigns.csv, accounts.csv, edges.csv, evidence.csv, narratives.csv, posts.csv
                    the tables of :mod:`viche.monitor.api`

Plots use matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx

from viche.errors import Location, MonitorError
from viche.monitor import api
from viche.monitor.model import Campaign, DetectionResult, Post
from viche.monitor.text import guess_language, normalise, normalise_hashtag, normalise_url

MAX_EVIDENCE_SHOWN = 50  # per edge in the HTML; the CSV and JSON keep all of it
MAX_POSTS_SHOWN = 5  # representative posts per narrative
MAX_EDGES_SHOWN = 200  # per campaign in the HTML, strongest first


def network(result: DetectionResult) -> nx.Graph[str]:
    """Accounts (and the edges between them) of every campaign, attributes as scalars."""
    graph: nx.Graph[str] = nx.Graph()
    scores = {a.author_id: a for a in result.accounts}
    for c in result.campaigns:
        for acc in c.accounts:
            s = scores.get(acc)
            graph.add_node(
                acc,
                label=acc,
                campaign=c.id,
                score=float(s.score) if s else 0.0,
                flagged=bool(s.flagged) if s else True,
            )
        for e in c.edges:
            graph.add_edge(
                e.account_a,
                e.account_b,
                campaign=c.id,
                weight=float(e.weight),
                expected=float(e.expected),
                score=float(e.score),
                behaviours=" ".join(b.value for b in e.behaviours),
                n_evidence=len(e.evidence),
            )
    return graph


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def timeline_png(campaign: Campaign, posts: Iterable[Post]) -> str:
    """The posts of the campaign's accounts over time, one row per account (base64 PNG).

    ``posts`` may hold anything: only the campaign's accounts' posts are drawn, coloured by
    narrative (grey: in no narrative).
    """
    member = set(campaign.accounts)
    cited = sorted((p for p in posts if p.author in member), key=lambda p: p.created_at)
    accounts = sorted({p.author for p in cited})
    row = {a: i for i, a in enumerate(accounts)}
    narrative_of: dict[str, int] = {}
    for k, n in enumerate(campaign.narratives):
        for pid in n.post_ids:
            narrative_of.setdefault(pid, k)
    fig = _figure(8.0, max(1.6, 0.28 * len(accounts) + 1.0))
    ax = fig.add_subplot()
    if cited:
        xs = [p.created_at for p in cited]
        ys = [row[p.author] for p in cited]
        colours = [f"C{narrative_of.get(p.id, -1) % 10}" if p.id in narrative_of else "0.4"
                   for p in cited]  # fmt: skip
        ax.scatter(xs, ys, c=colours, s=18, alpha=0.8)
        ax.set_yticks(range(len(accounts)), labels=accounts, fontsize=7)
    else:
        ax.text(0.5, 0.5, "no posts of this campaign in the store", ha="center", va="center")
    ax.set_xlabel("time (UTC); colour = narrative, grey = none")
    ax.set_title(f"{campaign.id}: posts of its accounts over time", fontsize=9)
    fig.autofmt_xdate()
    return _png(fig)


def network_png(campaign: Campaign) -> str:
    """The campaign's accounts and edges (width = co-actions), as a base64 PNG.

    Accounts without an edge inside the campaign (joined through co-actions with the group
    as a whole) are drawn hollow on a ring around the linked ones.
    """
    graph: nx.Graph[str] = nx.Graph()
    graph.add_nodes_from(campaign.accounts)
    for e in campaign.edges:
        graph.add_edge(e.account_a, e.account_b, weight=e.weight)
    linked = [n for n in graph.nodes if graph.degree(n) > 0]
    alone = [n for n in graph.nodes if graph.degree(n) == 0]
    core = graph.subgraph(linked)
    n = max(core.number_of_nodes(), 1)
    pos: dict[str, tuple[float, float]] = {}
    if linked:
        laid = nx.spring_layout(core, seed=7, k=2.0 / n**0.5, iterations=100)
        pos = {str(k): (float(v[0]), float(v[1])) for k, v in laid.items()}
    for i, node in enumerate(alone):
        angle = 2 * math.pi * i / len(alone)
        pos[node] = (1.3 * math.cos(angle), 1.3 * math.sin(angle))
    fig = _figure(5.0, 4.0)
    ax = fig.add_subplot()
    ax.set_axis_off()
    big = graph.number_of_nodes() > 40
    top = max((e.weight for e in campaign.edges), default=1.0) or 1.0
    for a, b, w in graph.edges(data="weight", default=1.0):
        (xa, ya), (xb, yb) = pos[a], pos[b]
        ax.plot(
            [xa, xb], [ya, yb], color="0.5", alpha=0.35 if big else 0.8,
            lw=(0.3 if big else 0.5) + 2.5 * float(w) / top, zorder=1,
        )  # fmt: skip
    size = 18 if big else 60
    if linked:
        ax.scatter([pos[v][0] for v in linked], [pos[v][1] for v in linked], s=size,
                   color="C3", zorder=2)  # fmt: skip
    if alone:
        ax.scatter([pos[v][0] for v in alone], [pos[v][1] for v in alone], s=size,
                   facecolors="none", edgecolors="C3", zorder=2)  # fmt: skip
    if not big:
        for node in graph.nodes:
            ax.annotate(str(node), pos[node], fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_title(f"{campaign.id}: {graph.number_of_nodes()} accounts, "
                 f"{graph.number_of_edges()} edges", fontsize=9)  # fmt: skip
    return _png(fig)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:75em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-top:2px solid #ccc;padding-top:.6em}
h3{font-size:1em}table{border-collapse:collapse;margin:.4em 0;font-size:.85em}
td,th{border:1px solid #ddd;padding:.2em .45em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.score{font-weight:bold;color:#a00}.muted{color:#777}
.plots img{max-width:100%;margin-right:1em}.alert{background:#fff3cd;padding:.3em .6em}
details{margin:.3em 0}blockquote{margin:.2em 0 .2em 1em;color:#333}
"""


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
            f" <span class='muted'>(and {count - 1} more with this text)</span>"
            if count > 1
            else ""
        )
        out.append(
            f"<blockquote>{_e(p.author)} {_e(p.created_at.isoformat())} [{_e(p.id)}]: "
            f"{_e(p.text)}{more}</blockquote>"
        )
    return out


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


def pushed_summary(posts: Iterable[Post], top: int = 5) -> PushedSummary:
    """Counts over a campaign's posts: languages, links (normalised), hashtags, and texts
    (equal once normalised), the most frequent first (ties by value)."""
    langs: Counter[str] = Counter()
    links: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    texts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    n = 0
    first: datetime | None = None
    last: datetime | None = None
    for p in posts:
        n += 1
        first = p.created_at if first is None else min(first, p.created_at)
        last = p.created_at if last is None else max(last, p.created_at)
        langs[p.lang or guess_language(p.text) or "?"] += 1
        links.update({k for k in (normalise_url(u) for u in p.urls) if k})
        tags.update({normalise_hashtag(t) for t in p.hashtags if normalise_hashtag(t)})
        key = normalise(p.text)
        if len(key) >= 20:
            texts[key] += 1
            shown.setdefault(key, " ".join(p.text.split()))

    def best(c: Counter[str], k: int) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(c.items(), key=lambda t: (-t[1], t[0]))[:k])

    return PushedSummary(
        posts=n,
        first=first,
        last=last,
        languages=best(langs, 10),
        links=best(links, top),
        hashtags=best(tags, top),
        texts=tuple((shown[t], k) for t, k in best(texts, 3) if k > 1),
    )


def _summary_html(s: PushedSummary) -> str:
    """The summary, headed in Ukrainian and English."""

    def items(rows: tuple[tuple[str, int], ...]) -> str:
        if not rows:
            return '<span class="muted">—</span>'
        return ", ".join(f"{_e(v)} <b>×{k}</b>" for v, k in rows)

    period = " – ".join(f"{t:%Y-%m-%d %H:%M}" for t in (s.first, s.last) if t is not None)
    rows = [
        ("Пости / Posts", f"{s.posts}; {_e(period or '—')} UTC"),
        ("Мови / Languages", items(s.languages)),
        ("Посилання / Links", items(s.links)),
        ("Хештеги / Hashtags", items(s.hashtags)),
        ("Тексти, що повторювались / Repeated texts", items(s.texts)),
    ]
    body = "".join(f"<tr><th>{h}</th><td>{v}</td></tr>" for h, v in rows)
    return f"<h3>Що поширювала / What it pushed</h3><table>{body}</table>"


def _campaign_html(
    c: Campaign, by_id: Mapping[str, Post], by_author: Mapping[str, list[Post]]
) -> str:
    mine = [p for a in c.accounts for p in by_author.get(a, ())]
    parts = [f'<section id="{_e(c.id)}"><h2>Campaign {_e(c.id)} '
             f'<span class="score">score {c.score:.2f}</span></h2>']  # fmt: skip
    seen = " – ".join(t.isoformat() for t in (c.first_seen, c.last_seen) if t is not None)
    parts.append(f"<p>{len(c.accounts)} accounts; active {_e(seen or 'unknown')}</p>")
    parts.append(_summary_html(pushed_summary(mine)))
    parts.append("<h3>Why</h3><ul>" + "".join(f"<li>{_e(r)}</li>" for r in c.reasons) + "</ul>")
    parts.append(f"<p><b>Accounts:</b> {_e(', '.join(c.accounts))}</p>")
    if c.outlets:
        parts.append(f"<p><b>Outlets:</b> {_e(', '.join(c.outlets))}</p>")
    parts.append(
        '<div class="plots">'
        f'<img alt="timeline of {_e(c.id)}" src="data:image/png;base64,{timeline_png(c, mine)}">'
        f'<img alt="network of {_e(c.id)}" src="data:image/png;base64,{network_png(c)}">'
        "</div>"
    )
    parts.append("<h3>Narratives</h3>")
    if not c.narratives:
        parts.append('<p class="muted">none found (or narratives were not requested)</p>')
    for n in c.narratives:
        known = ""
        if n.known_case:
            title = f"“{_e(n.known_case_title)}” " if n.known_case_title else ""
            known = (
                f' — matches known case {title}<a href="{_e(n.known_case)}">{_e(n.known_case)}</a>'
                f" (similarity {n.known_case_similarity:.2f})"
            )
        parts.append(
            f"<p><b>{_e(n.id)}</b> ({len(n.post_ids)} posts; {_e(', '.join(n.languages))})"
            f"{known}<br>{_e(n.label)}</p>"
        )
        parts.extend(_distinct_posts(n.post_ids, by_id))
    if c.representative_posts:
        parts.append("<h3>Representative posts</h3>")
        for pid in c.representative_posts[:MAX_POSTS_SHOWN]:
            p = by_id.get(pid)
            text = f"{p.author} {p.created_at.isoformat()}: {p.text}" if p else "(not in store)"
            parts.append(f"<blockquote>[{_e(pid)}] {_e(text)}</blockquote>")
    parts.append("<h3>Evidence behind every edge</h3>")
    ranked = sorted(c.edges, key=lambda e: (-e.score, e.account_a, e.account_b))
    if len(ranked) > MAX_EDGES_SHOWN:
        parts.append(
            f'<p class="muted">the {MAX_EDGES_SHOWN} strongest of {len(ranked)} edges; '
            "all of them are in edges.csv and evidence.csv</p>"
        )
    for e in ranked[:MAX_EDGES_SHOWN]:
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
        parts.append(
            f"<details><summary>{summary}</summary><table><tr><th>behaviour</th><th>post A</th>"
            f"<th>time A</th><th>post B</th><th>time B</th><th>lag (s)</th><th>key</th></tr>"
            f"{rows}</table>{tail}</details>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def render_html(
    result: DetectionResult,
    by_id: Mapping[str, Post],
    *,
    alerts: Sequence[Mapping[str, Any]] = (),
    title: str = "Viche influence monitor — campaign report",
    generated: datetime | None = None,
) -> str:
    """The whole report as one self-contained HTML page."""
    when = (generated or datetime.now(UTC)).isoformat(timespec="seconds")
    flagged = sum(1 for a in result.accounts if a.flagged)
    head = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p class='muted'>generated {_e(when)}; {result.posts_seen} posts seen; "
        f"{len(result.campaigns)} campaigns; {flagged} of {len(result.accounts)} accounts "
        "flagged</p>",
    ]
    if result.campaigns:
        head.append("<h2>Campaigns</h2><table><tr><th>campaign</th><th>score</th>"
                    "<th>accounts</th><th>narratives</th><th>first seen</th></tr>")  # fmt: skip
        for c in result.campaigns:
            first = c.first_seen.isoformat() if c.first_seen else ""
            head.append(f"<tr><td><a href='#{_e(c.id)}'>{_e(c.id)}</a></td><td>{c.score:.2f}</td>"
                        f"<td>{len(c.accounts)}</td><td>{len(c.narratives)}</td>"
                        f"<td>{_e(first)}</td></tr>")  # fmt: skip
        head.append("</table>")
    else:
        head.append("<p>No coordinated campaign was found.</p>")
    head.extend(_alerts_html(alerts))
    by_author: dict[str, list[Post]] = {}
    for p in by_id.values():
        by_author.setdefault(p.author, []).append(p)
    body = [_campaign_html(c, by_id, by_author) for c in result.campaigns]
    return "\n".join([*head, *body, "</body></html>"])


def _alerts_html(alerts: Sequence[Mapping[str, Any]]) -> list[str]:
    """Campaign alerts in full; narrative alerts (often many) folded under a count, so the
    campaigns table stays the first thing an analyst reads."""
    if not alerts:
        return []
    main = [a for a in alerts if a.get("kind") != "new_narrative"]
    narrative = [a for a in alerts if a.get("kind") == "new_narrative"]
    out = [f"<h2>Alerts ({len(alerts)})</h2>"]
    out.extend(f"<p class='alert'>{_e(a.get('message', ''))}</p>" for a in main)
    if narrative:
        out.append(f"<details><summary>{len(narrative)} new narrative(s)</summary>")
        out.extend(f"<p class='alert'>{_e(a.get('message', ''))}</p>" for a in narrative)
        out.append("</details>")
    return out


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
    """Write every output of the report into ``out_dir``; returns name -> path."""
    by_id = posts if isinstance(posts, Mapping) else {p.id: p for p in posts}
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MonitorError(
            f"cannot create the report directory: {exc}", where=Location(file=str(out))
        ) from exc
    paths = {name: out / name for name in REPORT_FILES}
    tables = {
        "campaigns.csv": api.campaigns(result),
        "accounts.csv": api.accounts(result),
        "edges.csv": api.edges(result),
        "evidence.csv": api.evidence(result),
        "narratives.csv": api.narratives(result),
        "posts.csv": api.posts(result, by_id),
    }
    for name, frame in tables.items():
        _write(paths[name], frame.to_csv(index=False))
    doc = api.result_to_dict(result)
    doc["alerts"] = [dict(a) for a in alerts]
    _write(paths["report.json"], json.dumps(doc, ensure_ascii=False, indent=1))
    buf = io.BytesIO()
    nx.write_graphml(network(result), buf)
    _write(paths["network.graphml"], buf.getvalue().decode("utf-8"))
    _write(paths["report.html"], render_html(result, by_id, alerts=alerts, generated=generated))
    return paths
