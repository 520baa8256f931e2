"""Issue 11, recall: the ideas not tried before, measured on the dev mix (half A decides,
half B checks). None is kept in the method; figures in docs/monitor-detection.md.

    python bench/monitor_eval/run.py --work DIR          # the dev mix's store, DIR/dev-mix/store
    python bench/monitor_eval/ideas.py --store DIR/dev-mix/store --state DIR/state.pkl \
        template template-assoc template-assoc:300 domain cohort cohort:5:3 clock feed-noshort
    python bench/monitor_eval/run.py --controls --reuse --work DIR   # the Telegram store
    python bench/monitor_eval/ideas.py --telegram --store DIR/telegram/store \
        --state DIR/tg_state.pkl template-assoc ...

The method (``viche.monitor.pipeline.detect_pass``, its steps called here one by one) runs
once, in process, up to the groups, joins and associated accounts; its arrays are kept in
``--state`` so that the ideas run on them without reading the store again. Each idea adds
accounts without reading a label; only then are the labels read, and the accounts each idea
adds (and drops) are counted per half: IRA / organic, the organic ones by source (English
persons and organisations, the debate audience ``gop_debate``, the news outlets).

Ideas (issue 11's list):

* ``template[:V]``: sentence skeletons. A text's words outside the input's ``V`` (1,000)
  most frequent words, its numbers and its links become one placeholder; a skeleton keeping
  at least ``TEMPLATE_MIN_WORDS`` frequent words (and replacing at least one) is a key. It is
  added to the co-action events as authored content (both time scales, the shuffled-time
  null, BH, groups, joins; a feed's skeletons tight, as its headlines).
  ``template-assoc[:V]``: the same, and each skeleton is also an item of the associated tier.
* ``domain``: each link's host (``www.`` dropped; shorteners left out, their site being
  unknown offline) as an item of the associated tier, at any lag, a feed's outlet left out.
* ``cohort``: an account outside the groups that carries >= 1 item a group owns (the tier's
  definition) and whose first active day is within one day of a member's first active day.
  ``cohort:U:M``: the item used by at most ``U`` accounts, and within one day of the first
  active day of at least ``M`` members.
* ``clock``: hour-of-day profile (UTC) of an account with >= 5 posts and >= 1 owned item,
  cosine >= 0.9 with its group's profile.
* ``feed-noshort``: the feed rule with a shortener never taken for an outlet (an account
  whose top link domain is ``t.co`` is not a feed).
"""

from __future__ import annotations

import argparse
import pickle
import re
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import build_mix, half_of, telegram_set  # noqa: E402

from viche.monitor.api import posts_path  # noqa: E402
from viche.monitor.association import associated_accounts  # noqa: E402
from viche.monitor.coordination import (  # noqa: E402
    Events,
    coordinated_share,
    detect_coordination,
    find_groups,
    join_groups,
    substantial_groups,
)
from viche.monitor.feeds import url_domain  # noqa: E402
from viche.monitor.pipeline import (  # noqa: E402
    TEXT,
    DetectConfig,
    _collect_chunk,
    _Collected,
    _events,
    _feeds,
    _h64,
    _text_clusters,
)
from viche.monitor.store import Store  # noqa: E402
from viche.monitor.text import normalise, normalise_url  # noqa: E402

TEMPLATE_VOCAB = 1000
TEMPLATE_MIN_WORDS = 4
# link shorteners: the site behind the link is not known offline
SHORTENERS = frozenset(
    {"t.co", "bit.ly", "ow.ly", "goo.gl", "tinyurl.com", "buff.ly", "dlvr.it", "ift.tt"}
    | {"fb.me", "j.mp", "is.gd", "trib.al", "wp.me", "youtu.be", "lnkd.in", "shar.es"}
    | {"po.st", "ln.is"}
)
_NUM = re.compile(r"\d+")


def chain(
    events: Events,
    account: np.ndarray,
    times: np.ndarray,
    posts_of: np.ndarray,
    cfg: DetectConfig,
) -> tuple[dict[int, int], set[int]]:
    """The method from the events to the groups with their joins (pipeline.detect_pass)."""
    coord = detect_coordination(events, cfg.coordination)
    print(
        f"  events {events.account.size:,}, pairs {len(coord.pairs):,},"
        f" significant {int(coord.pairs['significant'].sum()):,}"
    )
    groups = find_groups(coord, cfg.coordination)
    groups = substantial_groups(groups, coordinated_share(coord.rows, posts_of), cfg.coordination)
    days_of = pd.DataFrame({"a": account, "d": times // 86_400}).drop_duplicates()["a"]
    active = np.bincount(days_of.to_numpy(), minlength=posts_of.size).astype(np.int64)
    joins = join_groups(events, groups, cfg.coordination, posts_of, active)
    joined = joins[joins["joined"]].sort_values(["p", "group"]).drop_duplicates("account")
    extra = set()
    for acc, g in zip(joined["account"].tolist(), joined["group"].tolist(), strict=True):
        groups[int(acc)] = int(g)
        extra.add(int(acc))
    return groups, extra


def assoc(
    st: dict, groups: dict[int, int], items: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> pd.DataFrame:
    """The associated tier with extra items ``(account, key, post)``."""
    cfg: DetectConfig = st["cfg"]
    ev: Events = st["events"]
    keep = np.flatnonzero(~ev.tight) if ev.tight is not None else np.arange(ev.account.size)
    tags = np.flatnonzero(~st["feed"][st["account"][st["tag_post"]]])
    acc = [ev.account[keep], st["account"][st["tag_post"][tags]]]
    key = [ev.key[keep], st["tag_key"][tags]]
    post = [ev.post[keep], st["tag_post"][tags]]
    for a, k, p in items:
        acc.append(a)
        key.append(k)
        post.append(p)
    found = associated_accounts(
        np.concatenate(acc),
        np.concatenate(key),
        np.concatenate(post),
        groups=groups,
        posts=st["posts_of"],
        config=cfg.association,
        fdr=cfg.coordination.fdr,
        min_share=cfg.coordination.min_coordinated_share,
    )
    return found


def build_state(store_dir: Path) -> dict:
    cfg = DetectConfig()
    col = _Collected()
    texts: list[str] = []
    urls: list[str] = []
    with Store(posts_path(store_dir)) as store:
        for frame in store.frames(cfg.chunk_size):
            _collect_chunk(frame, col, cfg)
            texts.extend(frame["text"].tolist())
            urls.extend(frame["urls"].tolist())
    names = list(col.accounts)
    account = np.concatenate(col.account)
    times = np.concatenate(col.time)
    tag_post = np.concatenate(col.tag_post)
    tag_key = np.concatenate(col.tag_key)
    text_key = _text_clusters(col, cfg)
    feeds = _feeds(col, account, cfg.feeds)
    events = _events(col, text_key, account, times, feeds)
    posts_of = np.bincount(account, minlength=len(names)).astype(np.int64)
    groups, joined = chain(events, account, times, posts_of, cfg)
    st = {
        "cfg": cfg,
        "names": names,
        "account": account,
        "times": times,
        "text_key": text_key,
        "events": events,
        "feed": feeds[0],
        "top": feeds[1],
        "posts_of": posts_of,
        "tag_post": tag_post,
        "tag_key": tag_key,
        "texts": texts,
        "urls": urls,
        "groups": groups,
        "joined": joined,
    }
    found = assoc(st, groups, [])
    st["associated"] = {
        int(a): int(g)
        for a, g in zip(
            found.loc[found["associated"], "account"],
            found.loc[found["associated"], "group"],
            strict=True,
        )
    }
    return st


# -- ideas ----------------------------------------------------------------------------------------
def skeletons(st: dict, vocab_size: int = TEMPLATE_VOCAB) -> np.ndarray:
    """Template key per post (0 = none): see the module docstring."""
    words = [normalise(t).split() for t in st["texts"]]
    freq: Counter[str] = Counter()
    for w in words:
        freq.update(set(w))
    vocab = {w for w, _ in freq.most_common(vocab_size) if w != "u"}
    out = np.zeros(len(words), dtype=np.int64)
    for i, ws in enumerate(words):
        sk: list[str] = []
        kept = 0
        for w in ws:
            if w in vocab:
                sk.append(w)
                kept += 1
            elif _NUM.fullmatch(w) or w == "u" or not sk or sk[-1] != "_":
                sk.append("_")
        if kept >= TEMPLATE_MIN_WORDS and kept < len(ws):
            out[i] = _h64("s\x00" + " ".join(sk))
    return out


def idea_template(st: dict, with_assoc: bool, vocab_size: int) -> tuple[set[int], set[int]]:
    sk = skeletons(st, vocab_size)
    ev: Events = st["events"]
    has = np.flatnonzero(sk != 0)
    # the skeleton of a feed's headline is its outlet's too: tight, as the headline
    feed_tight = st["feed"][st["account"][has]]
    tight = np.concatenate(
        [ev.tight if ev.tight is not None else np.zeros(ev.account.size, bool), feed_tight]
    )
    events = Events(
        account=np.concatenate([ev.account, st["account"][has]]),
        key=np.concatenate([ev.key, sk[has]]),
        behaviour=np.concatenate([ev.behaviour, np.full(has.size, TEXT, dtype=np.int64)]),
        time=np.concatenate([ev.time, st["times"][has]]),
        post=np.concatenate([ev.post, has]),
        n_accounts=ev.n_accounts,
        tight=tight,
    )
    groups, _ = chain(events, st["account"], st["times"], st["posts_of"], st["cfg"])
    items = []
    if with_assoc:
        nf = has[~feed_tight]
        items.append((st["account"][nf], sk[nf], nf))
    found = assoc(st, groups, items)
    associated = set(found.loc[found["associated"], "account"].astype(int))
    return set(groups), associated


def idea_domain(st: dict) -> set[int]:
    acc, key, post = [], [], []
    feed, top = st["feed"], st["top"]
    for i, u in enumerate(st["urls"]):
        if not u:
            continue
        a = int(st["account"][i])
        for x in u.split():
            host = url_domain(normalise_url(x))
            if not host or host in SHORTENERS:
                continue
            d = _h64("d\x00" + host)
            if feed[a] and d == top[a]:
                continue
            acc.append(a)
            key.append(_h64("D\x00" + host))
            post.append(i)
    items = [(np.asarray(acc), np.asarray(key), np.asarray(post))]
    found = assoc(st, st["groups"], items)
    return set(found.loc[found["associated"], "account"].astype(int))


def owned_items(st: dict) -> pd.DataFrame:
    """(account outside the groups, group) pairs sharing >= 1 item owned by the group."""
    found = assoc(st, st["groups"], [])
    return found[found["c"] >= 1]


def idea_cohort(st: dict) -> set[int]:
    acc, t = st["account"], st["times"]
    first = np.full(st["posts_of"].size, np.iinfo(np.int64).max)
    np.minimum.at(first, acc, t // 86_400)
    members: dict[int, set[int]] = {}
    for a, g in st["groups"].items():
        members.setdefault(g, set()).add(int(first[a]))
    shared = owned_items(st)
    out = set()
    for a, g in zip(shared["account"].tolist(), shared["group"].tolist(), strict=True):
        d = int(first[a])
        if any(abs(d - x) <= 1 for x in members[g]):
            out.add(int(a))
    return out


def idea_cohort_rare(st: dict, max_users: int, min_cohort: int) -> set[int]:
    """Cohort + one rare item: an account outside the groups that uses an item used by at most
    ``max_users`` accounts, of which >= 2 are members of group g and >= half of the users, and
    whose first active day is within one day of the first active day of >= ``min_cohort`` of
    g's members."""
    acc, t = st["account"], st["times"]
    first = np.full(st["posts_of"].size, np.iinfo(np.int64).max)
    np.minimum.at(first, acc, t // 86_400)
    ev: Events = st["events"]
    keep = np.flatnonzero(~ev.tight) if ev.tight is not None else np.arange(ev.account.size)
    tags = np.flatnonzero(~st["feed"][st["account"][st["tag_post"]]])
    uses = pd.DataFrame(
        {
            "a": np.concatenate([ev.account[keep], acc[st["tag_post"][tags]]]),
            "k": np.concatenate([ev.key[keep], st["tag_key"][tags]]),
        }
    ).drop_duplicates()
    group_of = np.full(st["posts_of"].size, -1)
    for a, g in st["groups"].items():
        group_of[a] = g
    uses["g"] = group_of[uses["a"].to_numpy()]
    users = uses.groupby("k").size().rename("u")
    mem = uses[uses["g"] >= 0].groupby(["k", "g"]).size().rename("m").reset_index()
    mem = mem.merge(users, left_on="k", right_index=True)
    owned = mem[(mem["u"] <= max_users) & (mem["m"] >= 2) & (mem["m"] * 2 >= mem["u"])]
    hits = uses[uses["g"] < 0].merge(owned[["k", "g"]].rename(columns={"g": "og"}), on="k")
    firsts: dict[int, list[int]] = {}
    for a, g in st["groups"].items():
        firsts.setdefault(g, []).append(int(first[a]))
    fa = {g: np.asarray(v) for g, v in firsts.items()}
    out = set()
    for a, g in zip(hits["a"].tolist(), hits["og"].tolist(), strict=True):
        if int((np.abs(fa[g] - first[a]) <= 1).sum()) >= min_cohort:
            out.add(int(a))
    return out


def idea_feed_no_shortener(st: dict) -> set[int]:
    """The feed rule with a shortener never taken for an outlet: an account whose top link
    domain is a shortener (``t.co``: the article's site is unknown offline) is not a feed."""
    short = {_h64("d\x00" + h) for h in SHORTENERS}
    feed = st["feed"] & ~np.isin(st["top"], list(short))
    ev: Events = st["events"]
    tight = ev.tight & feed[ev.account] if ev.tight is not None else None
    events = replace(ev, tight=tight)
    groups, _ = chain(events, st["account"], st["times"], st["posts_of"], st["cfg"])
    st2 = dict(st, events=events, feed=feed)
    found = assoc(st2, groups, [])
    print(f"feeds {int(st['feed'].sum())} -> {int(feed.sum())}")
    return set(groups) | set(found.loc[found["associated"], "account"].astype(int))


def idea_clock(st: dict, min_cos: float = 0.9) -> set[int]:
    acc, t = st["account"], st["times"]
    hours = (t % 86_400) // 3600
    prof = np.zeros((st["posts_of"].size, 24))
    np.add.at(prof, (acc, hours), 1)
    gprof: dict[int, np.ndarray] = {}
    for a, g in st["groups"].items():
        gprof[g] = gprof.get(g, np.zeros(24)) + prof[a]
    shared = owned_items(st)
    out = set()
    for a, g in zip(shared["account"].tolist(), shared["group"].tolist(), strict=True):
        p, q = prof[a], gprof[g]
        cos = float(p @ q / (np.linalg.norm(p) * np.linalg.norm(q) + 1e-12))
        if cos >= min_cos and st["posts_of"][a] >= 5:
            out.add(int(a))
    return out


# -- scoring (labels read here only) ------------------------------------------------------------
def score(st: dict, labels: pd.DataFrame, name: str, flagged: set[int]) -> None:
    names = st["names"]
    flagged_names = {names[a] for a in flagged}
    base = {names[a] for a in set(st["groups"]) | set(st["associated"])}
    lab = labels.copy()
    lab["half"] = lab["author_id"].map(half_of)
    print(
        f"\n== {name}: {len(flagged_names)} flagged ({len(flagged_names - base)} added,"
        f" {len(base - flagged_names)} dropped)"
    )
    for half in ("A", "B", "all"):
        d = lab if half == "all" else lab[lab["half"] == half]
        f = d["author_id"].isin(flagged_names)
        b = d["author_id"].isin(base)
        y = d["ira"] == 1
        tp, fp = int((f & y).sum()), int((f & ~y).sum())
        add = d[f & ~b]
        drop = d[b & ~f]
        by_src = add.loc[add["ira"] == 0, "category"].value_counts().to_dict()
        print(
            f"  {half:>3}: P {tp / max(tp + fp, 1):.3f} R {tp / max(int(y.sum()), 1):.3f}"
            f" | added IRA {int(add['ira'].sum())} organic {int((add['ira'] == 0).sum())}"
            f" {by_src} | dropped IRA {int(drop['ira'].sum())} organic"
            f" {int((drop['ira'] == 0).sum())}"
        )
        if half == "A":
            ira_add = add.loc[add["ira"] == 1, "category"].value_counts().to_dict()
            print(f"       IRA added in A by category: {ira_add}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument(
        "--telegram",
        action="store_true",
        help="the store is run.py's Telegram run (tg_ru_news_2024): score its channels",
    )
    ap.add_argument("ideas", nargs="*", default=["base"])
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.state.is_file():
        st = pickle.loads(args.state.read_bytes())
    else:
        st = build_state(args.store)
        args.state.write_bytes(pickle.dumps(st))
    print(f"state {time.perf_counter() - t0:.0f} s")
    base = set(st["groups"]) | set(st["associated"])
    results: dict[str, set[int]] = {"base": base}
    for idea in args.ideas:
        t = time.perf_counter()
        if idea.split(":")[0] in ("template", "template-assoc"):
            vocab = int(idea.split(":")[1]) if ":" in idea else TEMPLATE_VOCAB
            g, a = idea_template(st, idea.startswith("template-assoc"), vocab)
            results[idea] = g | a
        elif idea == "domain":
            results[idea] = base | idea_domain(st)
        elif idea == "cohort":
            results[idea] = base | idea_cohort(st)
        elif idea.startswith("cohort:"):
            _, mu, mc = idea.split(":")
            results[idea] = base | idea_cohort_rare(st, int(mu), int(mc))
        elif idea == "feed-noshort":
            results[idea] = idea_feed_no_shortener(st)
        elif idea == "clock":
            results[idea] = base | idea_clock(st)
        elif idea != "base":
            raise SystemExit(f"unknown idea {idea}")
        print(f"[{idea}] {time.perf_counter() - t:.0f} s")
    labels = telegram_set()[1] if args.telegram else build_mix(500)[1]
    for name, flagged in results.items():
        score(st, labels, name, flagged)


if __name__ == "__main__":
    main()
