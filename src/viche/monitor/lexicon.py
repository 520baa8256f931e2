"""A lexical bridge across scripts for matching posts to known cases (issue 11).

A small hand-written lexicon: the key terms of the EUvsDisinfo case list (actors, places,
topics: NATO / НАТО, Zelensky / Зеленский / Зеленський, biolabs, shelling, Soros, ...) as
concepts, each with its stems in English, Russian and Ukrainian. A text's concepts are those
whose pattern it matches. :func:`similarity` is the cosine of idf-weighted concept
indicators (a concept named by few cases weighs more than "Russia" or "Ukraine"); the
narrative stage adds it, weighted, to the embedding cosine when it ranks the cases
(:class:`viche.monitor.narratives.CaseIndex`). Written from the case list's topics, not
learnt; measured in ``bench/narrative_eval/claim_set.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

_RAW: dict[str, str] = {
    "nato": r"\bnato\b|\bнато\b|натовск|натовськ|north atlantic|североатлант|північноатлант",
    "usa": r"\bus\b|\busa\b|\bu\.s\.|america|washington|сша|америк|вашингтон|штаты|штати",
    "eu": r"\beu\b|european union|brussels|\bес\b|\bєс\b|евросоюз|євросоюз|брюссел|брюсел",
    "europe": r"europe|европ|європ",
    "west": r"\bwest|запад|захід|західн",
    "ukraine": r"ukrain|kyiv|kiev|украин|украін|україн|киев|київ|киів|\bвсу\b|\bзсу\b|\bапу\b",
    "russia": r"russia|kremlin|moscow|росси|россі|росі|кремл|москв|\bрф\b",
    "crimea": r"crimea|крым|крим",
    "donbas": (
        r"donbas|donetsk|luhansk|lugansk|\bdnr\b|\blnr\b|"
        r"донбас|донецк|донецьк|луганск|луганськ|\bднр\b|\bлнр\b"
    ),
    "nazi": r"nazi|fascis|neo-nazi|bandera|нацис|фашис|бандер|неонацис",
    "zelensky": r"zelensk|зеленск|зеленськ",
    "poroshenko": r"poroshenk|порошенк",
    "soros": r"soros|сорос",
    "sanctions": r"sanction|санкци|санкці",
    "election": r"election|vote|voting|ballot|выбор|вибор|голосов|бюллетен|бюлетен",
    "fraud": r"fraud|rigg|falsif|manipulat|фальсиф|подтасов|вброс|вкид|махинац|махінац",
    "mh17": r"mh-?17|мн-?17|boeing|боинг|боїнг",
    "skripal": r"skripal|novichok|скрипал|новичок|новачок",
    "covid": r"covid|corona|pandemic|ковид|ковід|коронавирус|коронавірус|пандеми|пандемі",
    "lab": r"\blab|laborator|bioweapon|biological|лаборатор|биолаб|біолаб|биологическ|біологічн",
    "navalny": r"navaln|навальн",
    "syria": r"syria|assad|damascus|сири|сирі|асад|дамаск",
    "shelling": r"shell|artillery|bombard|обстрел|обстріл|артиллер|артилер|гранатомет|гранатомет",
    "civilians": (
        r"civilian|resident|residential|мирн\w* жител|мирн\w* житель|"
        r"мирн\w* населен|жилой|житлов|жител|житель"
    ),
    "coup": r"\bcoup|putsch|переворот|путч",
    "maidan": r"maidan|майдан",
    "revolution": r"colou?r revolution|revolution|цветн\w* революц|кольоров\w* революц|революц",
    "armenia": r"armenia|yerevan|армени|армені|ереван|єреван",
    "georgia": r"georgia|tbilisi|грузи|тбилис|тбіліс",
    "belarus": r"belarus|lukashenk|белорус|беларус|білорус|лукашенк",
    "moldova": r"moldov|молдав|молдов",
    "poland": r"poland|polish|польш|польск|польщ|польськ",
    "baltic": r"baltic|latvia|lithuania|estonia|прибалт|балти|латви|литв|эстони|естоні",
    "germany": (
        r"german|berlin|merkel|scholz|германи|немец|"
        r"німеч|німецьк|берлин|берлін|меркель|шольц"
    ),
    "nordstream": r"nord stream|северн\w* пот|північн\w* пот",
    "genocide": r"genocide|геноцид",
    "holodomor": r"holodomor|famine|голодомор|голод",
    "chemical": r"chemical|white helmets|sarin|химическ|хімічн|зарин|белые каски|білі каски",
    "migrants": r"migra|refugee|мигрант|мігрант|беженц|біженц",
    "interference": r"interfer|meddl|hack|collu|вмешат|втруча|взлом|хакер",
    "hysteria": (
        r"hysteri|hoax|myth|no proof|no evidence|conspiracy|истери|"
        r"істери|миф|міф|мним|уявн|надуман|выдум|вигад"
    ),
    "deepstate": r"deep state|swamp|глубинн\w* государ|глибинн\w* держав",
    "protest": r"protest|riot|rally|протест|митинг|мітинг|беспоряд|завореш",
    "finance": (
        r"financ|fund|pay|paid|money|sponsor|profit|финанс|"
        r"фінанс|плат|деньг|гроші|грош|прибыл|прибут|спонсор"
    ),
    "land": r"\bland|soil|lithium|resources|земл|ресурс|\bлити[йяю]|\bліті[йю]",
    "war": r"\bwar\b|\bwars\b|military conflict|войн|війн|конфликт|конфлікт",
    "troops": (
        r"troops|soldier|army|military|войск|військ|"
        r"солдат|армия|армія|армии|військовослужб|военнослужащ"
    ),
    "threat": r"threat|aggress|provoc|pretext|угроз|загроз|агресс|агрес|провокац|предлог|привод",
    "border": r"border|границ|кордон",
    "destroy": r"destroy|ruin|dismember|уничтож|знищ|разруш|зруйн",
    "occupation": r"occup|оккуп|окуп",
    "terror": r"terror|isis|islamic state|террор|терор|игил|іділ",
    "russophobia": r"russophob|русофоб",
    "netherlands": r"netherland|dutch|amsterdam|hague|нидерланд|нідерланд|голланд|амстердам|гаага",
    "trump": r"trump|трамп",
    "clinton": r"clinton|hillary|клинтон|клінтон",
    "obama": r"obama|обам",
    "biden": r"biden|байден",
    "mueller": r"mueller|rosenstein|russiagate|мюллер",
    "media": r"media|journalist|\bpress\b|сми|змі|журналист|журналіст",
    # what a claim says of its actor (the predicates that tell restatements from news)
    "control": (
        r"control|puppet|\btool\b|operative|\bagent|vassal|submission|subjugat|"
        r"подчин|підкор|контрол|марионет|маріонет|ставленн|вассал|васал"
    ),
    "illegal": r"illegal|unlawful|незакон|нелегит|нелегіт",
    "fabricated": (
        r"fabricat|\bfake|staged|set-up|set up|falsif|сфабрик|фейк|инсцен|інсцен|"
        r"постановоч|подделан|підробл"
    ),
    "ineffective": (
        r"ineffective|not work|n't work|useless|unproductive|неэффектив|неефектив|"
        r"не работа|не працю|бесполез|марн"
    ),
    "secret": r"\bhid|conceal|cover[- ]?up|secret|truth|тайн|таємн|скрыва|прихов|секрет|правд",
    "kill": r"\bkill|murder|execut|shot|убива|убил|вбив|расстрел|розстріл",
    "sell": r"\bsell|\bsale|\bsold|прода",
    "suffer": (
        r"suffer|\bhurt|\bharm|damag|\bcost|\bloss|жертв|ущерб|збитк|страда|"
        r"стражда|втрат|потер"
    ),
}

CONCEPTS: dict[str, re.Pattern[str]] = {k: re.compile(v, re.IGNORECASE) for k, v in _RAW.items()}


NAMES: tuple[str, ...] = tuple(CONCEPTS)


def concepts(text: str) -> frozenset[str]:
    """The lexicon's concepts a text mentions (in any of the three languages)."""
    return frozenset(k for k, r in CONCEPTS.items() if r.search(text))


def idf(sets: Sequence[frozenset[str]]) -> npt.NDArray[np.float32]:
    """Per concept (in :data:`NAMES` order), log((n + 1) / (1 + number of sets naming it))."""
    n = len(sets)
    counts = np.array([sum(k in s for s in sets) for k in NAMES], dtype=np.float64)
    return np.log((n + 1) / (1 + counts)).astype(np.float32)


def weighted(
    sets: Iterable[frozenset[str]], weights: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Unit rows of idf-weighted concept indicators (a row of zeros for a set with none)."""
    rows = [[1.0 if k in s else 0.0 for k in NAMES] for s in sets]
    m = np.asarray(rows, dtype=np.float32).reshape(-1, len(NAMES)) * weights
    norm = np.linalg.norm(m, axis=1, keepdims=True)
    out: npt.NDArray[np.float32] = (m / np.where(norm > 0, norm, 1.0)).astype(np.float32)
    return out


def similarity(
    texts: Sequence[str], others: npt.NDArray[np.float32], weights: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Lexical similarity (0..1) of each text to each row of ``others`` (from :func:`weighted`)."""
    out: npt.NDArray[np.float32] = weighted((concepts(t) for t in texts), weights) @ others.T
    return out
