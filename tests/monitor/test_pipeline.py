"""Detection end to end, on synthetic posts and on a slice of the real data."""

from __future__ import annotations

import gzip
import itertools
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from viche.monitor.ingest import ingest
from viche.monitor.model import Behaviour, Post
from viche.monitor.pipeline import DetectConfig, detect
from viche.monitor.scoring import accounts_frame
from viche.monitor.store import Store

START = datetime(2016, 1, 1, tzinfo=UTC)
WORDS = [
    "vote",
    "ballot",
    "city",
    "river",
    "market",
    "school",
    "bridge",
    "council",
    "road",
    "budget",
    "park",
    "music",
    "film",
    "train",
    "coffee",
    "winter",
    "summer",
    "garden",
    "bicycle",
    "museum",
    "library",
    "football",
    "weather",
    "island",
]
LEAKS = [
    "LEAKED: the election commission has ordered {n} thousand extra ballots for the east",
    "Витік: ЦВК таємно друкує {n} тисяч зайвих бюлетенів для східних областей",
    "Утечка: в ЦИК тайно печатают {n} тысяч лишних бюллетеней для восточных областей",
    "Insiders confirm observers were banned from {n} polling stations, share before deleted",
]


def organic(rnd: random.Random, accounts: int, posts: int) -> list[Post]:
    out = []
    for a in range(accounts):
        for i in range(posts):
            words = " ".join(rnd.choice(WORDS) for _ in range(12))
            tags = ("weekend",) if rnd.random() < 0.2 else ()
            out.append(
                Post(
                    id=f"o{a}-{i}",
                    author=f"organic{a}",
                    created_at=START + timedelta(seconds=rnd.randrange(365 * 86400)),
                    text=f"{words} {i}",
                    hashtags=tags,
                )
            )
    return out


def campaign(rnd: random.Random, accounts: int, occasions: int, synchronised: bool) -> list[Post]:
    out = []
    for o in range(occasions):
        t = START + timedelta(days=rnd.randrange(360), seconds=rnd.randrange(86400))
        text = LEAKS[o % len(LEAKS)].format(n=10 + o)
        for a in range(accounts):
            when = (
                t + timedelta(seconds=rnd.randrange(900))
                if synchronised
                else START + timedelta(seconds=rnd.randrange(365 * 86400))
            )
            out.append(
                Post(
                    id=f"c{a}-{o}",
                    author=f"troll{a}",
                    created_at=when,
                    text=f"{'RT @x: ' if a % 2 else ''}{text} https://t.co/{a}{o} @user{a}",
                    urls=(f"https://t.co/{a}{o}",),
                )
            )
    return out


def test_a_copy_paste_campaign_is_found_with_its_evidence() -> None:
    rnd = random.Random(11)
    posts = campaign(rnd, 6, 10, synchronised=True) + organic(rnd, 30, 40)
    result = detect(posts)
    assert result.posts_seen == len(posts)
    flagged = {a.author_id for a in result.accounts if a.flagged}
    assert flagged == {f"troll{a}" for a in range(6)}
    (camp,) = result.campaigns
    assert set(camp.accounts) == flagged
    assert camp.edges and all(Behaviour.NEAR_DUPLICATE_TEXT in e.behaviours for e in camp.edges)
    assert all(e.score > 0 and e.weight >= 3 > e.expected for e in camp.edges)
    evidence = camp.edges[0].evidence
    assert evidence and all(p.post_a.startswith("c") and p.post_b.startswith("c") for p in evidence)
    assert camp.first_seen is not None and camp.last_seen is not None
    assert camp.first_seen <= camp.last_seen
    assert camp.representative_posts
    table = accounts_frame(result.accounts)
    assert len(table) == 36 and set(table["author_id"]) >= flagged
    scores = dict(zip(table["author_id"], table["score"], strict=True))
    assert min(scores[f"troll{a}"] for a in range(6)) > max(
        scores[f"organic{a}"] for a in range(30)
    )


def test_the_same_texts_posted_without_synchrony_are_not_a_campaign() -> None:
    rnd = random.Random(11)
    posts = campaign(rnd, 6, 10, synchronised=False) + organic(rnd, 30, 40)
    result = detect(posts)
    assert result.campaigns == ()
    assert not any(a.flagged for a in result.accounts)
    assert len(result.accounts) == 36


def test_detect_reads_a_store_and_an_empty_store(tmp_path: Path) -> None:
    rnd = random.Random(5)
    with Store(tmp_path / "s.db") as store:
        assert detect(store).accounts == ()
        store.append(campaign(rnd, 5, 8, synchronised=True))
        result = detect(store, DetectConfig(chunk_size=7))  # many small chunks
    assert {a.author_id for a in result.accounts if a.flagged} == {f"troll{a}" for a in range(5)}


def _head(path: Path, lines: int) -> str:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        return "".join(itertools.islice(fh, lines))


@pytest.fixture(scope="module")
def real_slice(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first IRA authors' posts and the first organic accounts' posts, without labels."""
    root = shared_dir / "data" / "influence"
    out = tmp_path_factory.mktemp("slice")
    ira = _head(root / "ira_dev" / "posts.csv.gz", 40_000)
    org = _head(root / "organic_dev" / "posts.csv.gz", 20_000)
    (out / "ira.csv").write_text(ira, encoding="utf-8")
    (out / "organic.csv").write_text(org, encoding="utf-8")
    return out


def test_real_slice_flags_mostly_ira_accounts(real_slice: Path, shared_dir: Path) -> None:
    with Store() as store:
        for name in ("ira.csv", "organic.csv"):
            report = ingest(real_slice / name, store)
            assert report.malformed == 0
        result = detect(store)
    ira = {
        line.split(",")[0]
        for line in (shared_dir / "data" / "influence" / "ira_dev" / "accounts.csv")
        .read_text(encoding="utf-8")
        .splitlines()[1:]
    }
    flagged = [a.author_id for a in result.accounts if a.flagged]
    assert len(flagged) >= 5
    precision = sum(a in ira for a in flagged) / len(flagged)
    assert precision >= 0.8
    # the organic accounts are there, scored, and mostly not flagged
    organic = [a for a in result.accounts if a.author_id not in ira]
    assert organic and sum(a.flagged for a in organic) <= len(organic) // 4


def hashtag_posts(rnd: random.Random, tags: tuple[str, ...]) -> list[Post]:
    """Five accounts post their own words with the same hashtags, together, on ten days."""
    out = []
    for o in range(10):
        t = START + timedelta(days=30 * o + rnd.randrange(20), seconds=rnd.randrange(86400))
        for a in range(5):
            words = " ".join(rnd.choice(WORDS) for _ in range(10))
            out.append(
                Post(
                    id=f"h{a}-{o}",
                    author=f"tagger{a}",
                    created_at=t + timedelta(seconds=rnd.randrange(600)),
                    text=f"{words} {o}",
                    hashtags=tuple(f"{tag}{o}" for tag in tags),
                )
            )
    return out


def test_a_shared_hashtag_sequence_links_accounts() -> None:
    rnd = random.Random(3)
    posts = hashtag_posts(rnd, ("stopfraud", "truthleak", "vote")) + organic(rnd, 20, 30)
    flagged = {a.author_id for a in detect(posts).accounts if a.flagged}
    assert flagged == {f"tagger{a}" for a in range(5)}


def test_one_shared_topic_hashtag_alone_does_not() -> None:
    rnd = random.Random(3)
    posts = hashtag_posts(rnd, ("debate",)) + organic(rnd, 20, 30)
    assert not any(a.flagged for a in detect(posts).accounts)
    assert any(a.flagged for a in detect(posts, DetectConfig(min_hashtags=1)).accounts)


def test_detection_can_be_limited_to_a_period() -> None:
    rnd = random.Random(11)
    posts = campaign(rnd, 6, 10, synchronised=True) + organic(rnd, 10, 20)
    times = sorted(p.created_at for p in posts)
    start, end = times[len(times) // 4], times[len(times) // 2]
    inside = sum(start <= p.created_at < end for p in posts)
    result = detect(posts, DetectConfig(start=start, end=end))
    assert result.posts_seen == inside < len(posts)
    assert detect(posts, DetectConfig(start=end, end=start)).posts_seen == 0
