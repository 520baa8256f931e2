"""Organic non-English controls for the monitor evaluation, and per-language scoring.

Imported by ``run.py`` (``--controls``); unit-tested on small fixtures in
``tests/monitor/test_eval_controls.py`` (loaded by path: ``bench/`` is not a package).

What the shared data allows (see the SOURCE.txt of each folder; counts are printed by the run):

* Twitter: ``organic_dev`` has no Russian- or Ukrainian-language account (100 Cyrillic posts in
  235,474, 82 of them by one English-language developer); ``news_outlets_health`` and
  ``gop_debate_2015`` are English. Organic non-English Twitter accounts exist only in other
  languages (Korean, Japanese, Chinese, Dutch...): they are the ``other`` controls.
* Telegram: ``tg_ru_news_2024`` (24 Russian-language channels, Oct-Dec 2024 mostly) is NOT a
  clean organic set. A channel is a control only by a rule written from the sources' own
  documentation (:func:`telegram_roles`):

  - ``tg_independent``: its username is on VoynaSlov's list of *independent* Russian media
    (``tg_channel_labels_2022_2024/voynaslov_media_accounts.csv``; Twitter/VK handles of the
    same outlet) and it is not on the CPD list -- BBC News | Русская служба (``bbcrussian``,
    username from the upstream README's channel links). The one busy channel that shares the
    news of the day and can be called organic.
  - ``tg_apolitical``: not CPD-listed, not of the TOPOR family (ТОПОР is listed), and under
    1 % of its posts carry the source's topic label ``political`` (Qwen 2.5 labels, upstream;
    these channels have 0-5 such posts of 700-1,000, the next channel 1.7 %, the Moscow city
    channels 3 % and more) -- Naked Science, Хабр, Типичный программист.
  - ``tg_apolitical_same_owner``: the same rule, but one owner's channel family that
    cross-posts identical texts (the three "Библиотека ..." Proglib channels, per SOURCE.txt):
    coordinated by design, not inauthentic; a hard negative.

  Everything else is not a control: ``tg_cpd_listed`` (``cpd_list_match`` = 1: РИА Новости,
  Mash, SHOT, ТОПОР, Раньше всех, Банкста) and ``tg_unlabelled`` (the rest of the TOPOR family,
  the Moscow city channels, Ньюсач/Двач, 112: no source says who runs them). They stay in the
  Telegram run -- they are the news of the day the controls share -- but out of precision.

There is no Ukrainian-language organic account or channel anywhere in the shared data.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from viche.monitor.text import guess_language

LANGS = ("en", "ru", "uk", "other")
# the sources' language labels: names (IRA) and ISO codes (Twitter API, the tg heuristic)
_LANG_LABELS = {
    "english": "en",
    "en": "en",
    "russian": "ru",
    "ru": "ru",
    "ukrainian": "uk",
    "uk": "uk",
}
# labels that say nothing about the language (Twitter's "undefined", "no text" etc.)
_NO_LANGUAGE = {"", "und", "zxx", "qme", "qht", "qst", "qam", "qct", "qlt", "unknown", "lang"}
# scripts (organic_dev's ``script`` column) that are neither Latin nor Cyrillic
_OTHER_SCRIPTS = {"hangul", "japanese", "cjk", "thai", "arabic", "greek", "hebrew", "devanagari"}

# Telegram roles (module docstring). Counted as organic negatives in precision:
CONTROL_ROLES = ("tg_independent", "tg_apolitical", "tg_apolitical_same_owner")
# usernames of tg_ru_news_2024 channels where they decide a role (the upstream README links
# the channels by username; accounts.csv gives it only for the CPD-listed ones)
TG_USERNAMES = {"tg:-1001003921752": "bbcrussian"}
_TOPOR = re.compile(r"топор", re.IGNORECASE)
_PROGLIB = re.compile(r"^Библиотека ")
APOLITICAL_SHARE = 0.01  # at most this share of posts labelled political by the source
THIN = 20  # fewer organic accounts than this in a row: too thin to say anything


# -- languages ----------------------------------------------------------------------------------
def post_language(source_lang: str, text: str, script: str = "") -> str:
    """``en``/``ru``/``uk``/``other`` for one post, or ``""`` when nothing tells.

    The source's own label wins (IRA language names, Twitter codes); without one, a non-Latin,
    non-Cyrillic script (organic_dev's ``script``) is ``other``; else the letters
    (:func:`viche.monitor.text.guess_language`: Cyrillic -> ru/uk, Latin -> en).
    """
    label = source_lang.strip().casefold()
    if label in _LANG_LABELS:
        return _LANG_LABELS[label]
    if label not in _NO_LANGUAGE:
        return "other"
    if script.strip().casefold() in _OTHER_SCRIPTS:
        return "other"
    return guess_language(text)


def account_languages(posts: pd.DataFrame) -> pd.DataFrame:
    """Main language per account: ``author_id, lang, lang_basis, posts``.

    ``posts`` has ``author_id, lang, text`` (and ``script`` where the source has it). The
    main language is the most frequent among the posts the source labelled (``basis`` =
    ``source``); an account without a labelled post takes the most frequent guess from its
    scripts and letters (``basis`` = ``script``); none at all gives ``other``. Ties go to the
    language first in ``LANGS``.
    """
    if posts.empty:
        return pd.DataFrame(columns=["author_id", "lang", "lang_basis", "posts"])
    source_lang = posts["lang"].fillna("").astype(str)
    script = posts["script"].fillna("").astype(str) if "script" in posts else None
    labelled = ~source_lang.str.strip().str.casefold().isin(_NO_LANGUAGE)
    guessed = [
        post_language(lang, text, scr)
        for lang, text, scr in zip(
            source_lang,
            posts["text"].fillna("").astype(str),
            script if script is not None else [""] * len(posts),
            strict=True,
        )
    ]
    frame = pd.DataFrame(
        {
            "author_id": posts["author_id"].to_numpy(),
            "lang": guessed,
            "labelled": labelled.to_numpy(),
        }
    )
    rank = {lang: i for i, lang in enumerate(LANGS)}

    def main(group: pd.DataFrame) -> tuple[str, str]:
        for basis, part in (("source", group[group["labelled"]]), ("script", group)):
            langs = part["lang"][part["lang"] != ""]
            if len(langs):
                counts = langs.value_counts()
                best = max(counts.index, key=lambda lang: (counts[lang], -rank.get(lang, 9)))
                return str(best), basis
        return "other", "none"

    rows = []
    for author, group in frame.groupby("author_id", sort=True):
        lang, basis = main(group)
        rows.append((author, lang, basis, len(group)))
    return pd.DataFrame(rows, columns=["author_id", "lang", "lang_basis", "posts"])


# -- labels for inputs from outside ../shared ---------------------------------------------------
def read_labels(path: Path) -> pd.DataFrame:
    """A labels file for ``run.py --inputs``: CSV with ``author_id`` and ``campaign`` (1 = a known
    campaign account, 0 = organic), optionally ``lang`` (en/ru/uk/other; else from the posts)
    and ``source`` (any grouping, e.g. the collection it came from). Returns ``author_id, ira,
    lang, source``. ``ValueError`` naming the file, the line and the column when malformed."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in ("author_id", "campaign"):
        if column not in frame.columns:
            raise ValueError(f"{path}: no '{column}' column (columns: {', '.join(frame.columns)})")
    bad = frame.index[~frame["campaign"].str.strip().isin(["0", "1"])]
    if len(bad):
        line = int(bad[0]) + 2  # the header is line 1
        value = frame.loc[bad[0], "campaign"]
        raise ValueError(f"{path}, line {line}: campaign must be 0 or 1, not {value!r}")
    empty = frame.index[frame["author_id"].str.strip() == ""]
    if len(empty):
        raise ValueError(f"{path}, line {int(empty[0]) + 2}: author_id is empty")
    dup = frame["author_id"].duplicated()
    if dup.any():
        raise ValueError(f"{path}: author_id {frame.loc[dup, 'author_id'].iloc[0]!r} twice")
    lang = frame["lang"].str.strip().str.lower() if "lang" in frame else ""
    if "lang" in frame and not lang.isin([*LANGS, ""]).all():
        raise ValueError(f"{path}: lang must be one of {', '.join(LANGS)} or empty")
    return pd.DataFrame(
        {
            "author_id": frame["author_id"].str.strip(),
            "ira": frame["campaign"].str.strip().astype(int),
            "lang": lang,
            "source": frame.get("source", "inputs"),
        }
    )


# -- Telegram: roles and exports ------------------------------------------------------------------
def telegram_roles(
    channels: pd.DataFrame, posts: pd.DataFrame, independent: Iterable[str]
) -> pd.DataFrame:
    """The role of each channel of ``tg_ru_news_2024`` (see the module docstring).

    ``channels``: its ``accounts.csv`` (``author_id, channel_title, cpd_list_match``);
    ``posts``: its posts (``author_id, topic_category``); ``independent``: the usernames
    VoynaSlov labels ``independent`` (any platform). Returns ``author_id, channel_title,
    role, why``.
    """
    independent = {h.casefold() for h in independent}
    political = (
        posts.assign(political=posts["topic_category"] == "political")
        .groupby("author_id")["political"]
        .mean()
    )
    rows = []
    for author, title, cpd in channels[["author_id", "channel_title", "cpd_list_match"]].itertuples(
        index=False, name=None
    ):
        username = TG_USERNAMES.get(author, "")
        share = float(political.get(author, 0.0))
        if str(cpd).strip() == "1":
            role, why = "tg_cpd_listed", "on the CPD list (matched by title in accounts.csv)"
        elif username and username.casefold() in independent:
            role, why = "tg_independent", f"@{username} is 'independent' in VoynaSlov's media list"
        elif _TOPOR.search(title):
            role, why = "tg_unlabelled", "TOPOR family (ТОПОР itself is CPD-listed)"
        elif share < APOLITICAL_SHARE and _PROGLIB.match(title):
            role, why = (
                "tg_apolitical_same_owner",
                f"{share:.1%} of posts political; one owner's family (Proglib) cross-posting",
            )
        elif share < APOLITICAL_SHARE:
            role, why = "tg_apolitical", f"{share:.1%} of posts political (source's topic labels)"
        else:
            role, why = "tg_unlabelled", f"{share:.1%} of posts political, owner not documented"
        rows.append((author, title, role, why))
    return pd.DataFrame(rows, columns=["author_id", "channel_title", "role", "why"])


def read_posts_csv(root: Path, name: str) -> pd.DataFrame:
    """``root/name/posts.csv.gz`` (the shared schema), every column as text."""
    return pd.read_csv(
        root / name / "posts.csv.gz", dtype=str, keep_default_na=False, on_bad_lines="skip"
    )


def load_telegram(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(posts, labels per channel) of ``root/tg_ru_news_2024``: ``author_id, channel_title,
    role, why`` (:func:`telegram_roles`, VoynaSlov's list read from
    ``root/tg_channel_labels_2022_2024``), ``lang, lang_basis, posts``
    (:func:`account_languages`), ``cpd`` (the source's ``cpd_list_match``), ``source`` (=
    role), ``category`` and ``ira`` = 0 (no channel is a known campaign account)."""
    posts = read_posts_csv(root, "tg_ru_news_2024")
    channels = pd.read_csv(
        root / "tg_ru_news_2024" / "accounts.csv", dtype=str, keep_default_na=False
    )
    voyna = pd.read_csv(
        root / "tg_channel_labels_2022_2024" / "voynaslov_media_accounts.csv",
        dtype=str,
        keep_default_na=False,
    )
    roles = telegram_roles(
        channels, posts, voyna.loc[voyna["label"] == "independent", "handle"].tolist()
    )
    lab = roles.merge(account_languages(posts), on="author_id", how="left")
    lab["cpd"] = lab["author_id"].map(
        dict(zip(channels["author_id"], channels["cpd_list_match"], strict=True))
    )
    lab["source"] = lab["role"]
    lab["category"] = "telegram:" + lab["role"]
    lab["ira"] = 0
    return posts, lab


def channel_number(author_id: str) -> int:
    """The export's chat ``id`` for ``tg:-100<n>`` (Telegram Desktop writes ``n``)."""
    m = re.fullmatch(r"tg:-100(\d+)", author_id)
    if not m:
        raise ValueError(f"not a channel id: {author_id!r}")
    return int(m.group(1))


def telegram_exports(posts: pd.DataFrame, out_dir: Path) -> list[Path]:
    """One Telegram Desktop ``result.json`` per channel (``out_dir/<n>/result.json``).

    ``posts`` in the shared schema with ``channel_title`` and ``message_id``; the export
    holds what the source has (id, date, text; no forwards, views or entities), so the
    monitor reads it through its real Telegram path (:mod:`viche.monitor.telegram`).
    """
    paths = []
    for author, group in posts.groupby("author_id", sort=True):
        number = channel_number(str(author))
        times = pd.to_datetime(group["created_at"], utc=True)
        messages = [
            {
                "id": int(mid),
                "type": "message",
                "date": t.strftime("%Y-%m-%dT%H:%M:%S"),
                "date_unixtime": str(int(t.timestamp())),
                "from": str(title),
                "from_id": f"channel{number}",
                "text": str(text),
            }
            for mid, t, title, text in zip(
                group["message_id"], times, group["channel_title"], group["text"], strict=True
            )
        ]
        doc = {
            "name": str(group["channel_title"].iloc[0]),
            "type": "public_channel",
            "id": number,
            "messages": messages,
        }
        path = out_dir / str(number) / "result.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        paths.append(path)
    return paths


# -- scoring ----------------------------------------------------------------------------------
def binomial_upper(failures: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided exact (Clopper-Pearson) upper bound of a rate seen ``failures`` of ``trials``."""
    if trials <= 0:
        return float("nan")
    if failures >= trials:
        return 1.0
    alpha = 1.0 - confidence

    def cdf(p: float) -> float:  # P(X <= failures) for X ~ Binomial(trials, p)
        return sum(
            math.comb(trials, k) * p**k * (1.0 - p) ** (trials - k) for k in range(failures + 1)
        )

    lo, hi = failures / trials, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if cdf(mid) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


def precision_by(df: pd.DataFrame, column: str, order: Iterable[str] = ()) -> pd.DataFrame:
    """Per value of ``column``: accounts, campaign (``ira`` = 1) and organic counts, flagged,
    TP, FP, precision, recall, the organic accounts' false-positive rate with its 95 % upper
    bound, and ``verdict`` (``too thin`` when fewer than :data:`THIN` organic accounts).

    ``df`` has ``ira`` (0/1), ``flagged`` (0/1) and ``column``; rows in ``order`` first
    (listed even when empty), then the others sorted.
    """
    order = list(order)
    values = order + sorted(set(df[column].astype(str)) - set(order))
    rows = []
    for value in values:
        g = df[df[column].astype(str) == value]
        y = g["ira"].to_numpy(dtype=int)
        f = g["flagged"].to_numpy(dtype=int)
        tp = int(np.sum((y == 1) & (f == 1)))
        fp = int(np.sum((y == 0) & (f == 1)))
        pos, neg = int(y.sum()), int(len(y) - y.sum())
        verdict = "ok" if neg >= THIN else ("no organic" if neg == 0 else "too thin")
        rows.append(
            {
                column: value,
                "accounts": len(g),
                "campaign": pos,
                "organic": neg,
                "flagged": int(f.sum()),
                "tp": tp,
                "fp": fp,
                "precision": tp / (tp + fp) if tp + fp else float("nan"),
                "recall": tp / pos if pos else float("nan"),
                "fp_rate": fp / neg if neg else float("nan"),
                "fp_rate_upper95": binomial_upper(fp, neg),
                "verdict": verdict,
            }
        )
    return pd.DataFrame(rows)


def format_table(table: pd.DataFrame, key: str) -> str:
    lines = [
        f"  {key:26s} {'accts':>6s} {'camp.':>6s} {'organic':>7s} {'flagged':>7s} {'TP':>5s}"
        f" {'FP':>4s} {'prec':>6s} {'recall':>6s} {'FP rate':>7s} {'<=95%':>6s}  verdict"
    ]
    for r in table.to_dict("records"):
        lines.append(
            f"  {r[key]!s:26s} {r['accounts']:6d} {r['campaign']:6d} {r['organic']:7d}"
            f" {r['flagged']:7d} {r['tp']:5d} {r['fp']:4d} {r['precision']:6.3f}"
            f" {r['recall']:6.3f} {r['fp_rate']:7.3f} {r['fp_rate_upper95']:6.3f}  {r['verdict']}"
        )
    return "\n".join(lines)


# -- evidence ---------------------------------------------------------------------------------
def campaigns_json(campaigns: Iterable[object]) -> list[dict[str, object]]:
    """The campaigns of a :class:`~viche.monitor.model.DetectionResult` as plain JSON."""
    out: list[dict[str, object]] = []
    for c in campaigns:
        out.append(
            {
                "id": c.id,  # type: ignore[attr-defined]
                "accounts": list(c.accounts),  # type: ignore[attr-defined]
                "associated": list(c.associated),  # type: ignore[attr-defined]
                "associated_posts": [list(p) for p in c.associated_posts],  # type: ignore[attr-defined]
                "reasons": list(c.reasons),  # type: ignore[attr-defined]
                "edges": [
                    {
                        "a": e.account_a,
                        "b": e.account_b,
                        "weight": e.weight,
                        "expected": e.expected,
                        "score": e.score,
                        "behaviours": [str(b) for b in e.behaviours],
                        "evidence": [
                            {
                                "behaviour": str(p.behaviour),
                                "post_a": p.post_a,
                                "post_b": p.post_b,
                                "time_a": p.time_a.isoformat(),
                                "time_b": p.time_b.isoformat(),
                            }
                            for p in e.evidence
                        ],
                    }
                    for e in c.edges  # type: ignore[attr-defined]
                ],
            }
        )
    return out


def why_flagged(
    author: str,
    campaigns: list[dict[str, object]],
    describe: dict[str, str],
    text_of: dict[str, str],
    *,
    max_edges: int = 3,
) -> list[str]:
    """Lines of evidence for a flagged account: its campaign, its strongest edges (partner,
    what the partner is, behaviours, observed vs expected co-actions) and one example post
    pair per edge. ``describe`` maps accounts to a label (source/role), ``text_of`` post ids
    to texts."""
    for c in campaigns:
        accounts = c["accounts"]
        assert isinstance(accounts, list)
        if author in list(c.get("associated", ())):  # type: ignore[call-overload]
            kinds = pd.Series([describe.get(a, "?") for a in accounts]).value_counts()
            carried = [
                f"    {p}: {text_of.get(p, '(text not loaded)')[:120]}"
                for a, p in c.get("associated_posts", ())  # type: ignore[attr-defined]
                if a == author
            ]
            return [
                f"associated with campaign {c['id']} (not coordinated: its posts carry items"
                f" used mostly by the campaign's {len(accounts)} accounts, "
                + ", ".join(f"{k} {v}" for k, v in kinds.items())
                + "); its posts carrying them:",
                *carried,
            ]
        if author not in accounts:
            continue
        kinds = pd.Series([describe.get(a, "?") for a in accounts]).value_counts()
        lines = [
            f"campaign {c['id']}: {len(accounts)} accounts ("
            + ", ".join(f"{k} {v}" for k, v in kinds.items())
            + ")"
        ]
        edges = [e for e in c["edges"] if author in (e["a"], e["b"])]  # type: ignore[attr-defined]
        if not edges:
            lines.append("  no edge of its own: joined the group by its co-actions with it")
        return lines + edge_lines(edges, describe, text_of, author=author, max_edges=max_edges)
    return ["not in any campaign"]


def edge_lines(
    edges: list[dict[str, object]],
    describe: dict[str, str],
    text_of: dict[str, str],
    *,
    author: str = "",
    max_edges: int = 3,
) -> list[str]:
    """The strongest ``edges``: the two accounts (or the partner of ``author``), what they are,
    behaviours, observed vs expected co-actions, and one example post pair each."""
    lines = []
    for e in sorted(edges, key=lambda e: -float(e["score"]))[:max_edges]:  # type: ignore[arg-type]
        a, b = str(e["a"]), str(e["b"])
        if author:
            other = b if a == author else a
            who = f"with {other} [{describe.get(other, '?')}]"
        else:
            who = f"{describe.get(a, a)} -- {describe.get(b, b)}"
        lines.append(
            f"  {who}: {'+'.join(e['behaviours'])},"  # type: ignore[arg-type]
            f" {e['weight']:.0f} co-actions vs {e['expected']:.2f} expected"
            f" (surprise {e['score']:.1f})"
        )
        for p in e["evidence"][:1]:  # type: ignore[index]
            for side in ("a", "b"):
                text = " ".join(text_of.get(p[f"post_{side}"], "?").split())[:110]
                lines.append(
                    f"    {p['behaviour']}: {p[f'time_{side}'][:16]} {p[f'post_{side}']}: {text}"
                )
    return lines
