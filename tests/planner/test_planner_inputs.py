"""CSV inputs and the estimate: good files load, each bad line is named with its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from planner_cases import two_towns, write_instance

from viche.errors import MissingFileError, PlannerInputError
from viche.planner.estimate import estimate_demand, world_sites
from viche.planner.inputs import Params, read_demand, read_params, read_sites

DEMAND_HEADER = "place_id,name,country_iso3,latitude,longitude,voters\n"
SITES_HEADER = (
    "site_id,name,country_iso3,latitude,longitude,kind,fixed_cost,day_cost,max_booths,max_days\n"
)


def test_demand_and_sites_round_trip(tmp_path: Path) -> None:
    demand, sites = two_towns()
    d, s = write_instance(tmp_path, demand, sites)
    back = read_demand(d)
    assert list(back["place_id"]) == ["A", "B"]
    assert list(back["line"]) == [2, 3]
    assert read_sites(s)["max_booths"].tolist() == [10, 10, 10]


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        ("P1,Town,POL,50,20,-5", "voters", "below 0"),
        ("P1,Town,Poland,50,20,5", "country_iso3", "alpha-3"),
        ("P1,Town,POL,95,20,5", "latitude", "above 90"),
        ("P1,Town,POL,50,20,many", "voters", "not a number"),
        ("P1,,POL,50,20,5", "name", "empty"),
    ],
)
def test_bad_demand_line_is_named(tmp_path: Path, row: str, column: str, words: str) -> None:
    path = tmp_path / "demand.csv"
    path.write_text(DEMAND_HEADER + "P0,Ok,POL,50,20,5\n" + row + "\n", "utf-8")
    with pytest.raises(PlannerInputError) as info:
        read_demand(path)
    assert info.value.where.line == 3
    assert info.value.where.path == (column,)
    assert words in info.value.message
    assert info.value.where.file == str(path)


def test_site_without_capacity_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(SITES_HEADER + "S1,Hall,POL,50,20,hall,0,0,0,1\n", "utf-8")
    with pytest.raises(PlannerInputError) as info:
        read_sites(path)
    assert info.value.where.line == 2
    assert info.value.where.path == ("max_booths",)


def test_site_with_capacity_is_its_twin(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(SITES_HEADER + "S1,Hall,POL,50,20,hall,0,0,1,1\n", "utf-8")
    assert len(read_sites(path)) == 1


def test_unknown_kind_and_duplicate_id(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(SITES_HEADER + "S1,Hall,POL,50,20,tent,0,0,1,1\n", "utf-8")
    with pytest.raises(PlannerInputError, match="tent"):
        read_sites(path)
    path.write_text(
        SITES_HEADER + "S1,A,POL,50,20,hall,0,0,1,1\nS1,B,POL,50,20,hall,0,0,1,1\n", "utf-8"
    )
    with pytest.raises(PlannerInputError, match="repeats line 2") as info:
        read_sites(path)
    assert info.value.where.line == 3


def test_missing_column_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "demand.csv"
    path.write_text("place_id,name\nP,Q\n", "utf-8")
    with pytest.raises(PlannerInputError, match="missing column") as info:
        read_demand(path)
    assert info.value.where.line == 1
    with pytest.raises(MissingFileError):
        read_demand(tmp_path / "absent.csv")


def test_params_override_defaults(tmp_path: Path) -> None:
    path = tmp_path / "params.csv"
    path.write_text(
        "name,value\nbudget,1000\nexcluded_countries,RUS;BLR;XKX\n"
        "opening_hours,2\nturnout_profile,1;3\n",
        "utf-8",
    )
    params = read_params(path)
    assert params.budget == 1000
    assert params.excluded_countries == ("RUS", "BLR", "XKX")
    assert params.profile == (0.25, 0.75)


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("budget,-1\n", 2, "budget must be >= 0"),
        ("speed,60\n", 2, "unknown parameter"),
        ("online_share,1.5\n", 2, "online_share"),
        ("budget,1\nopening_hours,3\n", 3, "turnout_profile"),
    ],
)
def test_bad_params_are_named(tmp_path: Path, body: str, line: int, words: str) -> None:
    path = tmp_path / "params.csv"
    path.write_text("name,value\n" + body, "utf-8")
    with pytest.raises(PlannerInputError) as info:
        read_params(path)
    assert words in info.value.message
    if words != "turnout_profile":
        assert info.value.where.line == line


def test_default_params_are_valid() -> None:
    assert Params().validated().max_travel_km == pytest.approx(120.0)


def _abroad(folder: Path, refugees_pol: str = "1000") -> Path:
    (folder / "refugees_from_ukraine_by_country.csv").write_text(
        "year,coa_iso3,coa_unhcr_code,coa_name,coa_unhcr_region,refugees,asylum_seekers,"
        "others_of_concern,returned_refugees,idps,returned_idps,abroad\n"
        f"2025,POL,POL,Poland,Europe,{refugees_pol},0,0,0,0,0,1\n"
        "2025,CZE,CZE,Czechia,Europe,300,100,0,0,0,0,1\n"
        "2025,UKR,UKR,Ukraine,Europe,0,0,0,0,0,0,0\n",
        "utf-8",
    )
    (folder / "refugees_from_ukraine_demographics_2025.csv").write_text(
        "coa_iso3,adults_18plus,children_0_17\nPOL,600,400\n", "utf-8"
    )
    (folder / "cities.csv").write_text(
        "geonameid,name,country_iso2,country_iso3,unhcr_coa_iso3,admin1code,latitude,longitude,"
        "population,timezone,nearest_larger_geonameid,nearest_larger_km\n"
        "1,Warsaw,PL,POL,POL,78,52.23,21.01,1500000,Europe/Warsaw,,\n"
        "2,Mokotow,PL,POL,POL,78,52.19,21.02,200000,Europe/Warsaw,1,4.5\n"
        "3,Krakow,PL,POL,POL,72,50.06,19.94,500000,Europe/Warsaw,1,250\n"
        "4,Prague,CZ,CZE,CZE,52,50.09,14.42,1200000,Europe/Prague,,\n",
        "utf-8",
    )
    (folder / "missions.csv").write_text(
        "type,city,country,country_iso3,latitude,longitude\n"
        "embassy,Warsaw,Poland,POL,52.2,21.0\n"
        "embassy,,Poland,POL,,\n"
        "honorary consulate,Oslo,Norway,NOR,59.9,10.7\n",
        "utf-8",
    )
    return folder


def test_estimate_spreads_by_population_without_districts(tmp_path: Path) -> None:
    demand, summary = estimate_demand(_abroad(tmp_path))
    pol = demand[demand["country_iso3"] == "POL"].set_index("name")["voters"]
    assert set(pol.index) == {"Warsaw", "Krakow"}  # Mokotów is a district of Warsaw
    assert pol["Warsaw"] == pytest.approx(1000 * 0.6 * 1.5 / 2.0)
    assert pol["Krakow"] == pytest.approx(1000 * 0.6 * 0.5 / 2.0)
    # Czechia has no age split: the share over countries that have one (0.6) applies.
    cze = demand[demand["country_iso3"] == "CZE"]["voters"].sum()
    assert cze == pytest.approx(400 * 0.6)
    assert set(summary["country_iso3"]) == {"POL", "CZE"}
    sites = world_sites(tmp_path, demand)
    assert sorted(sites["kind"]) == ["hall", "hall", "hall", "mission"]


def test_estimate_refuses_a_negative_count(tmp_path: Path) -> None:
    with pytest.raises(PlannerInputError) as info:
        estimate_demand(_abroad(tmp_path, refugees_pol="-3"))
    assert info.value.where.line == 2
    assert info.value.where.path == ("refugees",)


def test_registrations_replace_their_country(tmp_path: Path) -> None:
    _abroad(tmp_path)
    reg = tmp_path / "reg.csv"
    reg.write_text(DEMAND_HEADER + "W,Warsaw,POL,52.23,21.01,16971\n", "utf-8")
    demand, summary = estimate_demand(tmp_path, registrations=reg)
    pol = demand[demand["country_iso3"] == "POL"]
    assert list(pol["voters"]) == [16971]
    assert summary.set_index("country_iso3").loc["POL", "source"] == "registrations"


def test_registrations_for_an_unknown_country_are_refused(tmp_path: Path) -> None:
    _abroad(tmp_path)
    reg = tmp_path / "reg.csv"
    reg.write_text(DEMAND_HEADER + "W,Warsaw,POL,52.23,21.01,1\nX,Atlantis,ATL,0,0,5\n", "utf-8")
    with pytest.raises(PlannerInputError, match="unknown country ATL") as info:
        estimate_demand(tmp_path, registrations=reg)
    assert info.value.where.line == 3
