"""Evaluate the influence monitor on the development mix of ../shared/data/influence/.

    python bench/monitor_eval/run.py                 # dev mix: accuracy, groups, throughput
    python bench/monitor_eval/run.py --scale 1000000 # also: 1M posts end to end (replicated mix)
    python bench/monitor_eval/run.py --scale 1000000 --max-posts-per-pass 300000
                                                     # both runs period by period (bounded memory)
    python bench/monitor_eval/run.py --scale 1000000 --narratives
                                                     # also: narratives and known cases, as
                                                     # 'viche monitor detect --narratives' does
    python bench/monitor_eval/run.py --cli-report --work /tmp/mix
                                                     # also 'viche monitor detect' then
                                                     # 'viche monitor report' on the mix's store,
                                                     # each in its own process: time, peak memory

The mix: the labelled IRA accounts (ira_dev) and the organic accounts (organic_dev,
news_outlets_health, gop_debate_2015), restricted to the months where both IRA and organic
posts exist (at least ``--min-month-posts`` of each). The posts are written without any label
to a CSV in the monitor's schema; a child process ingests it into a fresh store and runs
detection (its wall time and peak memory are the throughput figures). Only then are the
labels read, to score ``accounts.csv``: precision, recall, F1 of ``flagged``; PR-AUC
(average precision) of ``score``; the same per account category and per language; the
adjusted Rand index of the found campaigns against the IRA categories.

Held-out protocol: the accounts (IRA and organic alike) are split into two halves by a salted
hash of ``author_id`` (:func:`half_of`, fixed salt). The pipeline runs on the whole mix and
never sees a label; the figures are then reported on the full mix and on each half. Method
choices are made looking at half A only; half B is the honest estimate for accounts the
method was not tuned on.

The throughput run (``--scale N``) replicates the mix with shifted ids, authors and times
(each copy moved by a whole number of years so copies never co-act) until N posts.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("VICHE_SHARED", REPO.parent / "shared")) / "data" / "influence"
SCHEMA = ["id", "author", "created_at", "text", "lang", "repost_of", "urls", "hashtags"]
LANG = {
    "english": "en",
    "russian": "ru",
    "ukrainian": "uk",
    "german": "de",
    "en": "en",
    "ru": "ru",
    "uk": "uk",
    "de": "de",
}


# -- the development mix ------------------------------------------------------------------------
def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(
        SHARED / name / "posts.csv.gz", dtype=str, keep_default_na=False, on_bad_lines="skip"
    )


def build_mix(min_month_posts: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(posts in the monitor schema, labels per author) over the overlapping months."""
    ira = _read("ira_dev")
    organic = _read("organic_dev")
    news = _read("news_outlets_health")
    gop = _read("gop_debate_2015")
    ira_acc = pd.read_csv(SHARED / "ira_dev" / "accounts.csv", dtype=str, keep_default_na=False)
    org_acc = pd.read_csv(SHARED / "organic_dev" / "accounts.csv", dtype=str, keep_default_na=False)

    month = lambda df: df["created_at"].str[:7]  # noqa: E731
    ira_m = month(ira).value_counts()
    org_m = pd.concat([month(organic), month(news), month(gop)]).value_counts()
    months = sorted(
        set(ira_m[ira_m >= min_month_posts].index) & set(org_m[org_m >= min_month_posts].index)
    )
    parts = []
    labels = []
    for full, source in ((ira, "ira"), (organic, "organic"), (news, "news"), (gop, "gop")):
        df = full[month(full).isin(months)]
        parts.append(
            pd.DataFrame(
                {
                    "id": source + ":" + df["post_id"],
                    "author": df["author_id"],
                    "created_at": df["created_at"],
                    "text": df["text"],
                    "lang": df["lang"],
                    "repost_of": df["reposted_author"],
                    "urls": df["urls"],
                    "hashtags": df["hashtags"],
                }
            )
        )
        lang = df["lang"].str.lower().map(LANG).fillna("other")
        if "script" in df:
            lang = lang.where(
                df["lang"] != "", df["script"].map({"cyrillic": "ru"}).fillna("other")
            )
        main_lang = lang.groupby(df["author_id"]).agg(lambda s: s.value_counts().index[0])
        lab = pd.DataFrame({"author_id": main_lang.index, "lang": main_lang.to_numpy()})
        lab["posts"] = df.groupby("author_id").size().reindex(main_lang.index).to_numpy()
        lab["source"] = source
        labels.append(lab)
    posts = pd.concat(parts, ignore_index=True)
    lab = pd.concat(labels, ignore_index=True)
    cat = dict(zip(ira_acc["author_id"], ira_acc["account_category"], strict=True))
    org = dict(zip(org_acc["author_id"], org_acc["account_type"], strict=True))

    def category(row: pd.Series) -> str:
        if row["source"] == "ira":
            return "IRA:" + cat.get(row["author_id"], "Unknown")
        if row["source"] == "organic":
            return "organic:" + org.get(row["author_id"], "person")
        return "news_outlet" if row["source"] == "news" else "gop_debate"

    lab["category"] = lab.apply(category, axis=1)
    lab["ira"] = (lab["source"] == "ira").astype(int)
    print(
        f"mix: months {months[0]}..{months[-1]} ({len(months)} with >= {min_month_posts} IRA and"
        f" organic posts); {len(posts):,} posts, {len(lab):,} accounts"
        f" ({int(lab['ira'].sum())} IRA)"
    )
    return posts, lab


def replicate(posts: pd.DataFrame, target: int) -> pd.DataFrame:
    """Copies of the mix with shifted ids, authors and times (by whole years) up to ``target``."""
    copies = []
    t = pd.to_datetime(posts["created_at"], utc=True)
    k = 0
    total = 0
    while total < target:
        c = posts.copy()
        if k:
            c["id"] = f"r{k}:" + c["id"]
            c["author"] = f"r{k}:" + c["author"]
            c["created_at"] = (t + pd.DateOffset(years=4 * k)).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        copies.append(c)
        total += len(c)
        k += 1
    return pd.concat(copies, ignore_index=True).iloc[:target]


# -- held-out halves ----------------------------------------------------------------------------
HALF_SALT = b"viche-monitor-heldout-2026"


def half_of(author_id: str) -> str:
    """ "A" or "B": a fixed, salted hash of the account id (independent of its label)."""
    digest = hashlib.blake2b(author_id.encode("utf-8"), digest_size=8, key=HALF_SALT).digest()
    return "A" if digest[0] & 1 == 0 else "B"


# -- metrics -------------------------------------------------------------------------------------
def prf(y: np.ndarray, flagged: np.ndarray) -> tuple[float, float, float]:
    tp = float(np.sum((y == 1) & (flagged == 1)))
    fp = float(np.sum((y == 0) & (flagged == 1)))
    fn = float(np.sum((y == 1) & (flagged == 0)))
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    f = 2 * p * r / (p + r) if p + r and not math.isnan(p + r) else float("nan")
    return p, r, f


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision-recall curve (step-wise, ties grouped)."""
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-score, kind="stable")
    ys, ss = y[order], score[order]
    tp = np.cumsum(ys)
    fp = np.cumsum(1 - ys)
    last = np.r_[ss[1:] != ss[:-1], True]
    tp, fp = tp[last], fp[last]
    precision = tp / (tp + fp)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def best_recall_at_precision(y: np.ndarray, score: np.ndarray, target: float) -> float:
    order = np.argsort(-score, kind="stable")
    ys, ss = y[order], score[order]
    tp = np.cumsum(ys)
    fp = np.cumsum(1 - ys)
    last = np.r_[ss[1:] != ss[:-1], True]
    ok = (tp / (tp + fp) >= target) & last & (ss > 0)
    return float(tp[ok].max() / y.sum()) if ok.any() else 0.0


def adjusted_rand(a: list[str], b: list[str]) -> float:
    ct = pd.crosstab(pd.Series(a), pd.Series(b)).to_numpy()
    comb = lambda x: x * (x - 1) / 2.0  # noqa: E731
    n = ct.sum()
    s_ij = comb(ct).sum()
    s_a = comb(ct.sum(axis=1)).sum()
    s_b = comb(ct.sum(axis=0)).sum()
    expected = s_a * s_b / comb(n) if n > 1 else 0.0
    top = 0.5 * (s_a + s_b)
    return float((s_ij - expected) / (top - expected)) if top != expected else 1.0


def headline(df: pd.DataFrame, name: str) -> None:
    """Precision, recall, F1 of ``flagged``; PR-AUC and best recall at precision >= 0.9."""
    y = df["ira"].to_numpy()
    p, r, f = prf(y, df["flagged"].to_numpy())
    ap = average_precision(y, df["score"].to_numpy())
    r90 = best_recall_at_precision(y, df["score"].to_numpy(), 0.9)
    busy = df[df["posts"] >= 10]
    yb = busy["ira"].to_numpy()
    pb, rb, _ = prf(yb, busy["flagged"].to_numpy())
    print(
        f"{name:5s} {int(y.sum()):4d} IRA {int((1 - y).sum()):6d} organic:"
        f" precision {p:.3f}  recall {r:.3f}  F1 {f:.3f}  PR-AUC {ap:.3f}"
        f"  recall@precision>=0.9 (by score) {r90:.3f}   [>= 10 posts: P {pb:.3f} R {rb:.3f}]"
    )


def report(accounts: pd.DataFrame, labels: pd.DataFrame) -> None:
    df = labels.merge(accounts, on="author_id", how="left")
    missing = df["score"].isna().sum()
    df["score"] = df["score"].fillna(0.0)
    df["flagged"] = df["flagged"].fillna(0).astype(int)
    df["campaign"] = df["campaign"].fillna("").astype(str)
    df["half"] = [half_of(a) for a in df["author_id"]]
    print(f"\naccounts scored: {len(df):,} (missing from accounts.csv: {missing})")
    print(
        "held-out protocol: accounts split by a salted hash of author_id; method choices were"
        " made looking at half A's figures only (communities inspected while designing span"
        " both halves: see docs/monitor-detection.md); half B is the honest estimate"
    )
    headline(df, "ALL")
    headline(df[df["half"] == "A"], "A")
    headline(df[df["half"] == "B"], "B")
    for least in (10, 20):
        busy = df[df["posts"] >= least]
        yb = busy["ira"].to_numpy()
        pb, rb, fb = prf(yb, busy["flagged"].to_numpy())
        print(
            f"accounts with >= {least} posts in the mix ({int(yb.sum())} IRA,"
            f" {int((1 - yb).sum())} organic): precision {pb:.3f}  recall {rb:.3f}  F1 {fb:.3f}"
            f"  PR-AUC {average_precision(yb, busy['score'].to_numpy()):.3f}"
        )
    print(
        "\nper category (IRA: share flagged = recall; organic: share flagged = false-positive rate)"
    )
    print(f"  {'category':28s} {'accounts':>8s} {'flagged':>8s} {'share':>7s} {'mean score':>10s}")
    for cat, g in df.groupby("category"):
        print(
            f"  {cat:28s} {len(g):8d} {int(g['flagged'].sum()):8d}"
            f" {g['flagged'].mean():7.3f} {g['score'].mean():10.3f}"
        )
    print("\nper language (main language of the account's posts)")
    print(
        f"  {'lang':6s} {'IRA':>5s} {'organic':>8s} {'prec':>6s} {'recall':>6s}"
        f" {'F1':>6s} {'PR-AUC':>6s}"
    )
    for lang, g in df.groupby("lang"):
        yy = g["ira"].to_numpy()
        pp, rr, ff = prf(yy, g["flagged"].to_numpy())
        aa = average_precision(yy, g["score"].to_numpy())
        print(
            f"  {lang:6s} {int(yy.sum()):5d} {int((1 - yy).sum()):8d}"
            f" {pp:6.3f} {rr:6.3f} {ff:6.3f} {aa:6.3f}"
        )
    ira = df[df["ira"] == 1]
    flagged_ira = ira[ira["flagged"] == 1]
    singles = [
        c if c else f"single:{a}" for c, a in zip(ira["campaign"], ira["author_id"], strict=True)
    ]
    ari_all = adjusted_rand(singles, ira["category"].tolist())
    ari_flag = (
        adjusted_rand(flagged_ira["campaign"].tolist(), flagged_ira["category"].tolist())
        if len(flagged_ira) > 1
        else float("nan")
    )
    n_camp = df.loc[df["flagged"] == 1, "campaign"].nunique()
    print(
        f"\ngroups: {n_camp} campaigns; adjusted Rand index vs IRA categories:"
        f" {ari_flag:.3f} over flagged IRA accounts, {ari_all:.3f} over all IRA accounts"
        " (unflagged = singletons)"
    )
    print("\ncampaigns by composition (largest 12)")
    comp = df[df["flagged"] == 1].groupby("campaign")
    sizes = comp.size().sort_values(ascending=False).head(12)
    for cid, size in sizes.items():
        top = comp.get_group(cid)["category"].value_counts().head(3)
        print(f"  {cid}: {size:4d} accounts  " + ", ".join(f"{k} {v}" for k, v in top.items()))


# -- the child process: ingest + detect, timed ---------------------------------------------------
def peak_memory_mb() -> float:
    """Peak resident memory of this process since it started, in MB.

    Linux's ``ru_maxrss`` survives ``fork`` + ``exec``: a child started by a parent holding the
    whole mix as a DataFrame would report the parent's size. ``VmHWM`` (``/proc/self/status``)
    is the high-water mark of this program's own address space only.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: where the vectors of the known cases are kept between runs (``$VICHE_CACHE`` unless set;
#: embedding all 10,892 cases takes ~7 CPU-minutes, once per case list)
CASE_CACHE = REPO / "bench" / "narrative_eval" / ".cache"


def run_pipeline(
    csv_path: Path, out_dir: Path, max_posts_per_pass: int = 0, narratives: bool = False
) -> None:
    from viche.cli.monitor import with_narratives
    from viche.monitor.api import posts_path
    from viche.monitor.ingest import ingest
    from viche.monitor.pipeline import DetectConfig, detect
    from viche.monitor.scoring import accounts_frame
    from viche.monitor.store import Store

    t0, c0 = time.perf_counter(), time.process_time()
    (out_dir / "store").mkdir(exist_ok=True)
    with Store(posts_path(out_dir / "store")) as store:
        rep = ingest(csv_path, store, progress=sys.stderr.isatty())
        t1 = time.perf_counter()
        cfg = DetectConfig()
        if max_posts_per_pass:
            cfg = DetectConfig(max_posts_per_pass=max_posts_per_pass)
        result = detect(store, cfg)
    t2, c2 = time.perf_counter(), time.process_time()
    if narratives and result.campaigns:
        os.environ.setdefault("VICHE_CACHE", str(CASE_CACHE))
        result = with_narratives(result, posts_path(out_dir / "store"), out_dir / "store", None, "")
    t3, c3 = time.perf_counter(), time.process_time()
    accounts_frame(result.accounts).to_csv(out_dir / "accounts.csv", index=False)
    peak = peak_memory_mb()
    out = {
        "posts": rep.added,
        "malformed": rep.malformed,
        "ingest_s": t1 - t0,
        "detect_s": t2 - t1,
        "narratives_s": t3 - t2,
        "cpu_s": c3 - c0,
        "narratives_cpu_s": c3 - c2,
        "total_s": t3 - t0,
        "peak_mb": peak,
        "stats": result.stats,
    }
    (out_dir / "timing.json").write_text(json.dumps(out, indent=1))


def run_cli(argv: list[str], out: Path) -> None:
    """``viche`` with ``argv`` in this process, then its wall time and peak memory to ``out``."""
    from viche.cli.main import main as viche_main

    t0 = time.perf_counter()
    code = 0
    try:
        viche_main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out.write_text(
        json.dumps({"seconds": time.perf_counter() - t0, "peak_mb": peak_memory_mb(), "exit": code})
    )


def cli_report(work: Path) -> None:
    """``viche monitor detect --no-narratives`` then ``viche monitor report`` on the store of
    the dev-mix run, each in a fresh process (their own peak memory)."""
    store = work / "dev-mix" / "store"
    for name, argv in (
        ("detect", ["monitor", "detect", "--store", str(store), "--no-narratives"]),
        ("report", ["monitor", "report", "--store", str(store), "--out", str(work / "report")]),
    ):
        out = work / f"cli-{name}.json"
        subprocess.run(
            [sys.executable, __file__, "--cli", str(out), *argv],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        t = json.loads(out.read_text())
        size = ""
        if name == "report":
            size = f"; report.html {(work / 'report' / 'report.html').stat().st_size / 1e6:.1f} MB"
        print(
            f"[viche monitor {name}] {t['seconds']:.1f} s, peak memory {t['peak_mb']:.0f} MB,"
            f" exit {t['exit']}{size}"
        )


def timed_run(
    posts: pd.DataFrame,
    work: Path,
    name: str,
    max_posts_per_pass: int = 0,
    narratives: bool = False,
) -> tuple[pd.DataFrame, dict]:
    out = work / name
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "posts.csv.gz"
    with gzip.open(csv_path, "wt", encoding="utf-8", newline="", compresslevel=1) as fh:
        posts[SCHEMA].to_csv(fh, index=False)
    subprocess.run(
        [
            sys.executable,
            __file__,
            "--pipeline-only",
            str(csv_path),
            str(out),
            "--max-posts-per-pass",
            str(max_posts_per_pass),
            *(["--narratives"] if narratives else []),
        ],
        check=True,
    )
    timing = json.loads((out / "timing.json").read_text())
    t = timing
    print(
        f"[{name}] {t['posts']:,} posts ({t['malformed']} malformed rows):"
        f" ingest {t['ingest_s']:.1f} s,"
        f" detect {t['detect_s']:.1f} s, narratives {t['narratives_s']:.1f} s,"
        f" total {t['total_s']:.1f} s (CPU {t.get('cpu_s', 0):.0f} s, of which narratives"
        f" {t.get('narratives_cpu_s', 0):.0f} s; load average {os.getloadavg()[0]:.1f})"
        f" = {t['posts'] / t['total_s']:,.0f} posts/s end to end; peak memory {t['peak_mb']:.0f} MB"
    )
    s = t["stats"]
    print(
        f"[{name}] detect: read+keys {s['seconds_read']:.1f} s,"
        f" near-duplicates {s['seconds_text']:.1f} s,"
        f" coordination+null {s['seconds_coordination']:.1f} s,"
        f" scoring {s['seconds_scoring']:.1f} s;"
        f" {int(s['events']):,} events, {int(s['pairs_tested']):,} pairs tested,"
        f" {int(s['pairs_significant']):,} significant"
        + (
            f"; {int(s['passes'])} passes of <= {int(s['max_posts_in_pass']):,} posts"
            f" ({int(s['posts_read']):,} read)"
            if "passes" in s
            else "; one pass"
        )
    )
    if "narratives" in s:
        print(
            f"[{name}] narratives: {int(s['narratives'])} found among"
            f" {int(s['narrative_posts_embedded']):,} candidate posts,"
            f" {int(s.get('narrative_texts_embedded', 0)):,} distinct texts embedded"
        )
    return pd.read_csv(
        out / "accounts.csv", dtype={"author_id": str, "campaign": str}, keep_default_na=False
    ), timing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scale", type=int, default=0, help="also run N replicated posts end to end")
    ap.add_argument("--min-month-posts", type=int, default=500)
    ap.add_argument("--work", type=Path, default=None, help="keep the work files here")
    ap.add_argument(
        "--max-posts-per-pass",
        type=int,
        default=0,
        help="DetectConfig.max_posts_per_pass for every run (0 = the default)",
    )
    ap.add_argument(
        "--narratives",
        action="store_true",
        help="also find narratives and known cases (extra 'embed'; case vectors cached in"
        " $VICHE_CACHE, else bench/narrative_eval/.cache)",
    )
    ap.add_argument(
        "--scale-only", action="store_true", help="only the --scale run (no dev-mix figures)"
    )
    ap.add_argument("--pipeline-only", nargs=2, metavar=("CSV", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--cli", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    ap.add_argument(
        "--cli-report",
        action="store_true",
        help="after the dev mix: 'viche monitor detect' and 'viche monitor report' on its store",
    )
    ap.add_argument(
        "--score-only",
        type=Path,
        default=None,
        help="score an accounts.csv of an earlier run against the labels (no detection)",
    )
    args = ap.parse_args()
    if args.cli:
        run_cli(args.cli[1:], Path(args.cli[0]))
        return
    if args.pipeline_only:
        run_pipeline(
            Path(args.pipeline_only[0]),
            Path(args.pipeline_only[1]),
            args.max_posts_per_pass,
            args.narratives,
        )
        return
    posts, labels = build_mix(args.min_month_posts)
    if args.score_only:
        report(
            pd.read_csv(
                args.score_only, dtype={"author_id": str, "campaign": str}, keep_default_na=False
            ),
            labels,
        )
        return
    with tempfile.TemporaryDirectory(prefix="monitor_eval_") as tmp:
        work = args.work or Path(tmp)
        if not args.scale_only:
            accounts, _ = timed_run(
                posts, work, "dev-mix", args.max_posts_per_pass, args.narratives
            )
            report(accounts, labels)
        if args.cli_report and not args.scale_only:
            print()
            cli_report(work)
        if args.scale:
            print()
            big = replicate(posts, args.scale)
            del posts
            timed_run(big, work, f"scale-{args.scale}", args.max_posts_per_pass, args.narratives)


if __name__ == "__main__":
    main()
