"""Trade mapping: rule order, CSI prefixes, fuzzy quality on messy names, candidates."""

from __future__ import annotations

from datetime import date

import pytest

from gmp_assets.taxonomy.mapping import (
    AUTOMATIC_METHODS,
    CSI_PREFIX,
    FUZZY,
    MANUAL,
    N_CANDIDATES,
    PENDING,
    TradeMapper,
    TradeMapping,
    normalise,
)
from gmp_assets.taxonomy.trades import SEED_PATH, load_taxonomy

# Raw division names as they appear in owner GMP breakdowns, Procore budgets and P6 WBS, with
# the level-1 division a cost engineer would assign; None where a person must decide
# (several divisions, markups, locations). Written independently of gmp_assets/demo/names.py.
LABELLED: list[tuple[str, str | None]] = [
    # CSI numbers in their usual shapes
    ("01 - General Requirements", "01"),
    ("01-General Conditions", "01"),
    ("Div 01 General Conditions", "01"),
    ("DIVISION 1 - GENERAL REQUIREMENTS", "01"),
    ("02 - Existing Conditions", "02"),
    ("02 41 19 Selective Demolition", "02"),
    ("03 - Concrete", "03"),
    ("03-300 Cast-in-Place Concrete", "03"),
    ("033000 - Cast in Place Concrete", "03"),
    ("03 30 00", "03"),
    ("0330", "03"),
    ("03-", "03"),
    ("Div. 04 Masonry", "04"),
    ("04 20 00 Unit Masonry", "04"),
    ("05 - Metals", "05"),
    ("05 12 00 Structural Steel Framing", "05"),
    ("Div 06 - Wood & Plastics", "06"),
    ("06 40 00 Architectural Woodwork", "06"),
    ("07 - Thermal & Moisture Protection", "07"),
    ("075000 Membrane Roofing", "07"),
    ("08 - Doors & Windows", "08"),
    ("Division 08 Openings", "08"),
    ("09 - Finishes", "09"),
    ("Division 09 - Finishes", "09"),
    ("09 29 00 Gypsum Board", "09"),
    ("10 - Specialties", "10"),
    ("11 - Equipment", "11"),
    ("12 - Furnishings", "12"),
    ("13 - Special Construction", "13"),
    ("14 - Conveying Systems", "14"),
    ("Div 14 Elevators", "14"),
    ("21 - Fire Suppression", "21"),
    ("21 13 13 Wet-Pipe Sprinkler Systems", "21"),
    ("22 - Plumbing", "22"),
    ("Div 22", "22"),
    ("23 - HVAC", "23"),
    ("23 00 00 Mechanical", "23"),
    ("Div. 26 Electrical", "26"),
    ("26-000 Electrical", "26"),
    ("260000", "26"),
    ("27 - Communications", "27"),
    ("28 - Electronic Safety & Security", "28"),
    ("31 - Earthwork", "31"),
    ("31 23 00 Excavation and Fill", "31"),
    ("32 - Exterior Improvements", "32"),
    ("32 12 16 Asphalt Paving", "32"),
    ("33 - Utilities", "33"),
    ("DIV 33 SITE UTILITIES", "33"),
    ("(26) Electrical", "26"),
    # numbers that are not CSI divisions of the taxonomy
    ("25 - Integrated Automation", None),
    ("99 - Miscellaneous", None),
    ("Level 2 Fitout", None),
    ("Phase 1 Sitework", "31"),
    ("2nd Floor Electrical", "26"),
    ("Building 3 Plumbing", "22"),
    ("Level 1 Concrete Slab", "03"),
    ("15000 Mechanical", "23"),
    ("Division 15 - Mechanical", "23"),
    ("Division 16 - Electrical", "26"),
    ("16000 Electrical", "26"),
    ("Phase 2", None),
    ("2024 Escalation", None),
    ("02 - Sitework", None),
    # trade words and package names
    ("CONCRETE WORK", "03"),
    ("Concrete", "03"),
    ("Cast-In-Place Concrete", "03"),
    ("Concrete Foundations", "03"),
    ("Formwork", "03"),
    ("Rebar", "03"),
    ("Reinforcing Steel", "03"),
    ("Precast Concrete", "03"),
    ("Post-Tensioning", "03"),
    ("Masonry", "04"),
    ("Brick & Block", "04"),
    ("CMU", "04"),
    ("Masonry Work", "04"),
    ("Stone Veneer", "04"),
    ("Structural Steel", "05"),
    ("Misc. Metals", "05"),
    ("Miscellaneous Metals", "05"),
    ("Metal Deck", "05"),
    ("Steel Erection", "05"),
    ("Structural & Misc Steel", "05"),
    ("Rough Carpentry", "06"),
    ("Millwork", "06"),
    ("Casework & Millwork", "06"),
    ("Finish Carpentry", "06"),
    ("Roofing", "07"),
    ("Waterproofing", "07"),
    ("Insulation", "07"),
    ("Caulking & Sealants", "07"),
    ("Fireproofing", "07"),
    ("Roofing & Sheet Metal", "07"),
    ("EIFS", "07"),
    ("Metal Wall Panels", "07"),
    ("Thermal & Moisture Protection", "07"),
    ("Doors, Frames & Hardware", "08"),
    ("Glass & Glazing", "08"),
    ("Curtain Wall", "08"),
    ("Storefronts", "08"),
    ("Windows", "08"),
    ("Overhead Doors", "08"),
    ("Door Hardware", "08"),
    ("Aluminum Storefront & Glazing", "08"),
    ("Hollow Metal Doors & Frames", "08"),
    ("Drywall", "09"),
    ("Drywall & Metal Studs", "09"),
    ("Gypsum Board Assemblies", "09"),
    ("Painting", "09"),
    ("Paint & Wallcovering", "09"),
    ("Flooring", "09"),
    ("Carpet & Resilient Flooring", "09"),
    ("Ceramic Tile", "09"),
    ("Acoustical Ceilings", "09"),
    ("Interior Finishes", "09"),
    ("Lath & Plaster", "09"),
    ("Toilet Accessories", "10"),
    ("Toilet Partitions", "10"),
    ("Signage", "10"),
    ("Fire Extinguishers & Cabinets", "10"),
    ("Lockers", "10"),
    ("Kitchen Equipment", "11"),
    ("Food Service Equipment", "11"),
    ("Appliances", "11"),
    ("Window Treatments", "12"),
    ("Furniture", "12"),
    ("FF&E", "12"),
    ("Pre-Engineered Metal Building", "13"),
    ("Swimming Pool", "13"),
    ("Elevators", "14"),
    ("Elevators & Escalators", "14"),
    ("Elevator Equipment", "14"),
    ("Vertical Transportation", "14"),
    ("Fire Sprinklers", "21"),
    ("Fire Protection", "21"),
    ("Sprinkler System", "21"),
    ("Plumbing", "22"),
    ("Plumbing Fixtures", "22"),
    ("Mechanical", "23"),
    ("HVAC", "23"),
    ("Mechanical/HVAC", "23"),
    ("Ductwork", "23"),
    ("HVAC Controls", "23"),
    ("Heating & Ventilation", "23"),
    ("Test & Balance", "23"),
    ("Mechanical Equipment", "23"),
    ("Electrical", "26"),
    ("Electric", "26"),
    ("Lighting", "26"),
    ("Power & Lighting", "26"),
    ("Electrical Service", "26"),
    ("Emergency Generator", "26"),
    ("Low Voltage", "27"),
    ("Data/Telecom", "27"),
    ("Structured Cabling", "27"),
    ("Voice & Data", "27"),
    ("Audio Visual", "27"),
    ("Fire Alarm", "28"),
    ("Security", "28"),
    ("Access Control", "28"),
    ("Security & Access Control", "28"),
    ("CCTV", "28"),
    ("Earthwork", "31"),
    ("Sitework", "31"),
    ("Site Work", "31"),
    ("Excavation", "31"),
    ("Grading", "31"),
    ("Excavation & Backfill", "31"),
    ("Site Preparation", "31"),
    ("Shoring", "31"),
    ("Piling", "31"),
    ("Erosion Control", "31"),
    ("Landscaping", "32"),
    ("Paving", "32"),
    ("Asphalt Paving", "32"),
    ("Site Improvements", "32"),
    ("Landscape & Irrigation", "32"),
    ("Fencing", "32"),
    ("Site Concrete & Paving", "32"),
    ("Site Utilities", "33"),
    ("Storm Drainage", "33"),
    ("Sanitary Sewer", "33"),
    ("Utilities", "33"),
    ("Underground Utilities", "33"),
    ("General Conditions", "01"),
    ("General Requirements", "01"),
    ("Supervision", "01"),
    ("Temporary Facilities", "01"),
    ("General Conditions - Staffing", "01"),
    ("Testing & Inspections", "01"),
    ("Demolition", "02"),
    ("Abatement", "02"),
    ("Selective Demolition", "02"),
    ("Demo", "02"),
    ("Asbestos Abatement", "02"),
    # abbreviations and misspellings
    ("Elec", "26"),
    ("Mech.", "23"),
    ("Plbg", "22"),
    ("Conc.", "03"),
    ("Concerte", "03"),
    ("Concret Foundations", "03"),
    ("Electical", "26"),
    ("Electrcal Work", "26"),
    ("Plumbng", "22"),
    ("Mechancial", "23"),
    ("Finshes", "09"),
    ("Fire Protecton", "21"),
    ("Maosnry", "04"),
    ("Strucutral Steel", "05"),
    ("Elevater", "14"),
    ("Landscapping", "32"),
    ("Excavaton", "31"),
    ("Dywall", "09"),
    ("Roofng", "07"),
    ("Paitning", "09"),
    ("Insullation", "07"),
    ("Waterprofing", "07"),
    ("Fire Sprinkers", "21"),
    ("Demolision", "02"),
    ("Millwrok", "06"),
    # a person must decide
    ("MEP", None),
    ("M/E/P", None),
    ("MEP Coordination", None),
    ("Mechanical & Plumbing", None),
    ("Plumbing & HVAC", None),
    ("Plumbng & HVAC", None),
    ("Mechanical, Electrical & Plumbing", None),
    ("Electrical & Low Voltage", None),
    ("Concrete & Masonry", None),
    ("GC Fee", None),
    ("Fee", None),
    ("General Conditions & Fee", None),
    ("Contingency", None),
    ("Owner Contingency", None),
    ("Construction Contingency", None),
    ("Insurance", None),
    ("Builder's Risk Insurance", None),
    ("Payment & Performance Bond", None),
    ("Allowances", None),
    ("Sheet Metal", None),
    ("Controls", None),
    ("Fire", None),
    ("Site", None),
    ("Framing", None),
    ("Building Envelope", None),
    ("Piping", None),
    ("General Trades", None),
    ("Overhead & Profit", None),
    ("Equipment Rental", None),
    ("Preconstruction", None),
    ("Design Fees", None),
    ("Permits", None),
    ("Ground Floor", None),
    ("Tenant Improvements", None),
    ("Interior Construction", None),
    ("Punch List", None),
    # P6 names of a building schedule (WBS House 1..5, trade activities, milestones): milestones name no trade
    ("House 1", None),
    ("House 1 Finish", None),
    ("House 5 Finish", None),
    ("Project Start", None),
    ("Project Finish", None),
    ("Finish Milestone", None),
    ("Substantial Completion", None),
    ("Ceiling", "09"),
]


@pytest.fixture(scope="module")
def mapper() -> TradeMapper:
    return TradeMapper()


def measure(mapper: TradeMapper, labelled: list[tuple[str, str | None]]) -> dict[str, object]:
    """Accuracy on mappable names, wrong confident mappings, and ambiguous names not held back."""
    results = {m.raw_division_name: m for m in mapper.map_names(name for name, _ in labelled)}
    truth = dict(labelled)
    mappable = [n for n, code in truth.items() if code is not None]
    right = [n for n in mappable if results[n].canonical_code == truth[n]]
    wrong = [
        (n, truth[n], results[n].canonical_code, results[n].confidence)
        for n in truth
        if results[n].method in AUTOMATIC_METHODS and results[n].canonical_code != truth[n]
    ]
    return {
        "names": len(truth),
        "mappable": len(mappable),
        "accuracy": len(right) / len(mappable),
        "missed": [(n, truth[n], results[n].method) for n in mappable if results[n].method == PENDING],
        "wrong_confident": [w for w in wrong if w[3] >= 0.85],
        "wrong": wrong,
        "ambiguous_mapped": [
            (n, results[n].canonical_code) for n, code in truth.items() if code is None and results[n].method != PENDING
        ],
    }


def report(title: str, metrics: dict[str, object]) -> None:
    print(
        f"\n{title}: {metrics['names']} distinct names, {metrics['mappable']} mappable, "
        f"accuracy {metrics['accuracy']:.1%}, wrong at >= 0.85: {len(metrics['wrong_confident'])}, "
        f"wrong at any confidence: {len(metrics['wrong'])}, ambiguous mapped: {len(metrics['ambiguous_mapped'])}"
    )
    print(f"  left for review: {metrics['missed']}")
    print(f"  wrong: {metrics['wrong']}")


def test_quality_on_realistic_names(mapper: TradeMapper) -> None:
    assert len(LABELLED) >= 150 and len(dict(LABELLED)) == len(LABELLED)
    metrics = measure(mapper, LABELLED)
    report("own list", metrics)
    assert metrics["accuracy"] >= 0.95
    assert metrics["wrong_confident"] == []
    assert metrics["ambiguous_mapped"] == []


def test_quality_on_demo_spellings(mapper: TradeMapper) -> None:
    from gmp_assets.demo import names

    # every spelling the demo generator can write; its AMBIGUOUS names should wait for a person
    labelled = {**names.all_spellings(), **dict.fromkeys(names.AMBIGUOUS)}
    metrics = measure(mapper, list(labelled.items()))
    report("demo spellings (gmp_assets.demo.names.all_spellings)", metrics)
    assert metrics["accuracy"] >= 0.95
    assert metrics["wrong_confident"] == []


def test_quality_on_a_generated_demo_portfolio(mapper: TradeMapper, tmp_path) -> None:
    """The product target, measured per project on the names the demo files really contain."""
    from gmp_assets.demo import generate_portfolio

    summaries = generate_portfolio(tmp_path, n_projects=8, seed=5, as_of=date(2026, 10, 31))
    labelled = [(name, code) for s in summaries for name, code in s.division_truth.items()]
    per_project = [measure(mapper, list(s.division_truth.items())) for s in summaries]
    total = sum(m["mappable"] for m in per_project)
    right = sum(m["accuracy"] * m["mappable"] for m in per_project)
    wrong_confident = [w for m in per_project for w in m["wrong_confident"]]
    print(
        f"\ndemo portfolio: {len(labelled)} (project, name) pairs, automatic and right {right / total:.1%}, "
        f"wrong at >= 0.85: {len(wrong_confident)}"
    )
    assert right / total >= 0.95
    assert wrong_confident == []


def test_rule_order_confirmed_beats_prefix_beats_fuzzy(mapper: TradeMapper) -> None:
    prefixed = mapper.map_name("26 - Electrical")
    assert (prefixed.canonical_code, prefixed.method, prefixed.confidence) == ("26", CSI_PREFIX, 0.95)
    # the prefix decides where the words alone would go to review
    assert mapper.map_name("Electrical & Low Voltage").method == PENDING
    assert mapper.map_name("26 - Electrical & Low Voltage").canonical_code == "26"
    assert mapper.map_name("22 - Plumbing & HVAC").canonical_code == "22"
    confirmed = mapper.map_name("26 - Electrical", confirmed={"26 - Electrical": "27"})
    assert (confirmed.canonical_code, confirmed.method, confirmed.confidence) == ("27", MANUAL, 1.0)
    fuzzy = mapper.map_name("Electrical Work")
    assert (fuzzy.canonical_code, fuzzy.method) == ("26", FUZZY) and 0.85 <= fuzzy.confidence <= 1.0
    manual = mapper.map_name("Electrical Work", confirmed={"electrical  work": "28"})
    assert (manual.canonical_code, manual.method) == ("28", MANUAL)
    # a level-2 code confirmed by a reviewer resolves to its division; unknown codes are refused
    assert mapper.map_name("Rebar", confirmed={"Rebar": "0320"}).canonical_code == "03"
    with pytest.raises(ValueError, match="unknown code"):
        mapper.map_name("Rebar", confirmed={"Rebar": "99"})


@pytest.mark.parametrize(
    "name, code",
    [
        ("03-", "03"),
        ("03 - Concrete", "03"),
        ("Div 03", "03"),
        ("Div. 26 Electrical", "26"),
        ("Division 09 - Finishes", "09"),
        ("033000", "03"),
        ("03 30 00", "03"),
        ("03-300", "03"),
        ("0330", "03"),
        ("DIV 3 CONCRETE", "03"),
        ("div26", "26"),
        ("[10] Specialties", "10"),
        ("03.30.00 Concrete", "03"),
        ("26 \u2013 Electrical", "26"),
    ],
)
def test_csi_prefixes(mapper: TradeMapper, name: str, code: str) -> None:
    result = mapper.map_name(name)
    assert (result.canonical_code, result.method, result.confidence) == (code, CSI_PREFIX, 0.95)


@pytest.mark.parametrize(
    "name",
    [
        "Level 2 Fitout",
        "Phase 1",
        "2nd floor",
        "25 - Integrated Automation",
        "99 Misc",
        "02200 Earthwork",
        "15000 Mechanical",
        "10.5% Fee",
        "12,500 SF Slab",
        "Div 15000",
        "1 Bucks Junction Works",
        "2024 Escalation",
    ],
)
def test_numbers_that_are_not_csi_prefixes(mapper: TradeMapper, name: str) -> None:
    assert mapper.map_name(name).method != CSI_PREFIX


def test_prefix_contradicted_by_words_goes_to_review(mapper: TradeMapper) -> None:
    # MasterFormat 1995 "Division 2" was sitework, 2004's 02 is existing conditions
    result = mapper.map_name("Division 2 - Sitework")
    assert result.method == PENDING and result.canonical_code is None
    assert {"02", "31"} <= {c.code for c in result.candidates[:2]}


@pytest.mark.parametrize(
    "name",
    ["03 - Concrete", "Concrete", "MEP", "", "Div 22", "zzzz", "Fire Protecton", "Duct Insulation", "Window Blinds"],
)
def test_every_result_has_five_sorted_candidates(mapper: TradeMapper, name: str) -> None:
    result = mapper.map_name(name)
    scores = [c.score for c in result.candidates]
    assert len(result.candidates) == N_CANDIDATES
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 100 for s in scores)
    assert len({c.code for c in result.candidates}) == N_CANDIDATES
    divisions = {d.code: d.name for d in load_taxonomy().divisions}
    assert all(divisions[c.code] == c.name for c in result.candidates)
    if result.canonical_code is not None:
        assert result.candidates[0].code == result.canonical_code


def test_pending_carries_best_score_as_confidence(mapper: TradeMapper) -> None:
    result = mapper.map_name("Plumbing & HVAC")
    assert result.method == PENDING and result.canonical_code is None
    assert {c.code for c in result.candidates[:2]} == {"22", "23"}
    assert result.confidence == pytest.approx(result.candidates[0].score / 100)


def test_map_names_is_distinct_and_stable(mapper: TradeMapper) -> None:
    names = ["Plumbing", "Concrete", "Plumbing", "MEP", "Concrete", "Electrical"]
    results = mapper.map_names(names, confirmed={"MEP": "23"})
    assert [r.raw_division_name for r in results] == ["Plumbing", "Concrete", "MEP", "Electrical"]
    assert [r.canonical_code for r in results] == ["22", "03", "23", "26"]
    assert all(isinstance(r, TradeMapping) for r in results)


def test_is_trade_name(mapper: TradeMapper) -> None:
    for name in ["Masonry", "Plumbing", "Roofing", "03 - Concrete", "Div 26", "Elevators"]:
        assert mapper.is_trade_name(name), name
    for name in [
        "Key Milestones",
        "Design",
        "Ground Floor",
        "2nd Floor",
        "Level 2",
        "MEP",
        "Phase 1",
        "",
        "Access",
        "Planning Consents",
        "11 month Land Access Possession Period",
        "Single Option",
    ]:
        assert not mapper.is_trade_name(name), name


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("House 1 Finish", None),  # a milestone: "finish" among other words is not 09 Finishes
        ("Project Finish", None),
        ("Finish Carpentry", "06"),  # the name of a 06 trade, though it holds 09's word
        ("Paint & Wallcovering", "09"),  # every word is 09's
        ("Food Service Equipment", "11"),  # the further word is generic
        ("Concrete & Masonry", None),  # "concrete" is 04's word too, but names 03 alone
    ],
)
def test_a_name_holding_a_division_word_among_others(mapper: TradeMapper, name: str, code: str | None) -> None:
    result = mapper.map_name(name)
    assert result.canonical_code == code
    if code is None:
        assert result.method == PENDING and result.confidence < mapper.threshold / 100


def test_the_token_set_scorer_rates_a_contained_word_a_full_match() -> None:
    """The scorer kept for comparison shows what token_sort prevents: a milestone mapped with confidence 1."""
    result = TradeMapper(scorer="token_set").map_name("House 1 Finish")
    assert (result.canonical_code, result.method, result.confidence) == ("09", FUZZY, 1.0)
    with pytest.raises(ValueError, match="unknown word scorer"):
        TradeMapper(scorer="wratio")


def test_threshold_is_respected() -> None:
    strict = TradeMapper(threshold=99.0)
    assert strict.map_name("Concerte").method == PENDING
    assert strict.map_name("Concrete").method == FUZZY


def test_normalise() -> None:
    assert normalise("Mechanical/HVAC Work") == ("mechanical", "hvac")
    assert normalise("Site-Works & Démolition") == ("sitework", "and", "demolition")
    assert normalise("Div. 09 Finishes (Subcontract)") == ("finish",)
    assert normalise("Level 2 Fitout") == ("level", "fitout")


def test_load_taxonomy() -> None:
    taxonomy = load_taxonomy()
    assert load_taxonomy(SEED_PATH) is taxonomy
    assert len(taxonomy.divisions) == 23
    assert all(len(d.code) == 2 and d.code.isdigit() and d.parent_code is None for d in taxonomy.divisions)
    assert taxonomy.by_code["26"].name == "Electrical"
    assert taxonomy.division_of("033000") == "03" and taxonomy.division_of("0920") == "09"
    assert {t.code for t in taxonomy.all} >= {d.code for d in taxonomy.divisions}


@pytest.mark.parametrize(
    "rows, error",
    [
        (["03,1,,Concrete", "03,1,,Concrete again"], "duplicate"),
        (["03,1,,Concrete", "0330,2,04,Cast-in-Place"], "no level-1 parent"),
        (["3,1,,Concrete"], "two digits"),
    ],
)
def test_load_taxonomy_rejects_a_broken_seed(tmp_path, rows: list[str], error: str) -> None:
    path = tmp_path / "taxonomy.csv"
    header = (
        "code,level,parent_code,name,typical_gmp_share,typical_start_share,typical_finish_share,typical_duration_share"
    )
    path.write_text("\n".join([header, *(f"{row},0.1,0,1,1" for row in rows)]) + "\n")
    with pytest.raises(ValueError, match=error):
        load_taxonomy(path)
