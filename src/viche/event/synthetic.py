"""Synthetic constituencies and voter registries, for the demo, the tests and the benchmark.

Everything here is made from a seeded :class:`random.Random` (reproducible, and never used
for anything secret). Names are drawn from short Ukrainian lists; ids, unit codes and birth
dates are unique by construction (no one is enrolled twice).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from viche.event.constituencies import (
    Constituencies,
    Constituency,
    Region,
    TerritorialUnit,
    build_constituencies,
)
from viche.event.registry import Category, Voter, write_registry_csv

_SURNAMES = (
    "Шевченко", "Коваленко", "Бондаренко", "Ткаченко", "Кравченко", "Олійник", "Мельник",
    "Бойко", "Коваль", "Поліщук", "Савченко", "Руденко", "Мороз", "Марченко", "Лисенко",
)  # fmt: skip
_GIVEN = (
    "Олена", "Тарас", "Ірина", "Петро", "Оксана", "Андрій", "Наталія", "Богдан", "Марія",
    "Олександр", "Юлія", "Дмитро", "Софія", "Максим", "Анна",
)  # fmt: skip
_PATRONYMICS = ("Іванович", "Петрівна", "Миколайович", "Степанівна", "", "Олегович")
_HOSTS = (("DE", "Berlin", "DE-BERLIN"), ("PL", "Warszawa", "PL-WARSZAWA"),
          ("CZ", "Praha", "CZ-PRAHA"), ("GB", "London", "GB-LONDON"),
          ("PL", "Kraków", "PL-KRAKOW"), ("DE", "München", "DE-MUENCHEN"))  # fmt: skip

#: Default shares of the categories (resident, abroad, military, displaced).
SHARES = (0.70, 0.12, 0.06, 0.12)


def unit_code(n: int) -> str:
    """The ``n``-th synthetic territorial unit code (``UA`` + 17 digits)."""
    return f"UA{n:017d}"


def synthetic_constituencies(
    regions: int = 3, per_region: int = 2, units: int = 4, excluded: int = 1
) -> Constituencies:
    """``regions`` regions of ``per_region`` constituencies of ``units`` units each; the last
    unit of the first ``excluded`` constituencies is excluded (occupied)."""
    rs = [Region(f"R{r + 1:02d}", f"Регіон {r + 1}") for r in range(regions)]
    cs: list[Constituency] = []
    us: list[TerritorialUnit] = []
    out: dict[str, str] = {}
    for r in range(regions):
        for _ in range(per_region):
            c = Constituency(f"C{len(cs) + 1:03d}", f"Округ {len(cs) + 1}", rs[r].id)
            cs.append(c)
            for u in range(units):
                code = unit_code(len(us) + 1)
                us.append(TerritorialUnit(code, f"Громада {len(us) + 1}", c.id))
                if u == units - 1 and len(cs) <= excluded:
                    out[code] = "occupied"
    return build_constituencies(rs, cs, us, out)


def synthetic_voters(
    constituencies: Constituencies,
    n: int,
    seed: int = 1,
    shares: tuple[float, float, float, float] = SHARES,
    *,
    id_prefix: str = "V",
) -> Iterator[Voter]:
    """``n`` distinct voters of all four categories, streamed."""
    rng = random.Random(seed)
    units = list(constituencies.units.values())
    free = [u for u in units if not constituencies.is_excluded(u.code)]
    categories = list(Category)
    for i in range(n):
        category = rng.choices(categories, weights=shares)[0]
        home = rng.choice(units)
        # distinct identities: the birth date and index make each person unique
        born = f"{1940 + i % 60:04d}-{1 + (i // 60) % 12:02d}-{1 + (i // 720) % 28:02d}"
        common = dict(
            voter_id=f"{id_prefix}{i + 1:08d}",
            surname=f"{rng.choice(_SURNAMES)}",
            given_name=rng.choice(_GIVEN),
            patronymic=rng.choice(_PATRONYMICS),
            birth_date=born,
            home_constituency=home.constituency,
        )
        # names repeat, so make the surname unique for people born the same day
        common["surname"] = f"{common['surname']}-{_letters(i // 20160)}"
        if category is Category.RESIDENT:
            yield Voter(
                category=category,
                home_unit=home.code,
                address=f"вул. Центральна, {1 + i % 200}",
                **common,
            )
        elif category is Category.ABROAD:
            country, city, post = rng.choice(_HOSTS)
            yield Voter(category=category, country=country, city=city, consular_post=post, **common)
        elif category is Category.MILITARY:
            yield Voter(category=category, unit=f"A{rng.randrange(10000):04d}", **common)
        else:
            here = rng.choice(free)
            yield Voter(category=category, home_unit=home.code, current_unit=here.code, **common)


def _letters(n: int) -> str:
    """``n`` in base 33 with Ukrainian capitals (a name part, never a digit)."""
    alphabet = "АБВГҐДЕЄЖЗИІЇЙКЛМНОПРСТУФХЦЧШЩЮЯ"
    out = alphabet[n % len(alphabet)]
    n //= len(alphabet)
    while n:
        out = alphabet[n % len(alphabet)] + out
        n //= len(alphabet)
    return out.capitalize()


def write_synthetic_registry(
    path: Path, constituencies: Constituencies, n: int, seed: int = 1
) -> int:
    """Write ``n`` synthetic voters as a registry CSV; returns ``n``."""
    return write_registry_csv(path, synthetic_voters(constituencies, n, seed))
