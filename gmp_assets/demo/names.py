"""How real exports spell CSI divisions: the demo generator's ground truth.

Every spelling below belongs to exactly one level-1 CSI division. A file draws one *style*
(``csi_dash`` -> ``03 - Concrete``, ``section`` -> ``033000 Cast-in-Place Concrete``, ``trade``
-> ``Drywall``...) and then, name by name, a few misspellings and, rarely, one of the
``AMBIGUOUS`` names that even a person would hesitate over. The tables are written to look
like owner spreadsheets, Procore budget codes and P6 WBS names, not to suit any matcher.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DivisionNames:
    """The ways one division is written: CSI titles, MasterFormat sections, trade words, typos."""

    titles: tuple[str, ...]
    sections: tuple[str, ...]
    trades: tuple[str, ...]
    typos: tuple[str, ...]


DIVISION_NAMES: dict[str, DivisionNames] = {
    "01": DivisionNames(
        ("General Requirements", "General Conditions"),
        (
            "013100 Project Management and Coordination",
            "015000 Temporary Facilities and Controls",
            "017700 Closeout Procedures",
        ),
        ("General Conditions", "General Requirements", "GCs", "Gen Conditions"),
        ("General Condtions", "Genral Requirements"),
    ),
    "02": DivisionNames(
        ("Existing Conditions",),
        ("024119 Selective Demolition", "028200 Asbestos Remediation"),
        ("Demolition", "Selective Demolition", "Abatement"),
        ("Demoltion", "Existing Condtions"),
    ),
    "03": DivisionNames(
        ("Concrete",),
        ("033000 Cast-in-Place Concrete", "032000 Concrete Reinforcing", "031000 Concrete Forming and Accessories"),
        ("Concrete", "Cast-in-Place Concrete", "Rebar", "Concrete Foundations"),
        ("Concerte", "Concret"),
    ),
    "04": DivisionNames(
        ("Masonry",),
        ("042000 Unit Masonry",),
        ("Masonry", "Brick & Block", "CMU"),
        ("Masonary",),
    ),
    "05": DivisionNames(
        ("Metals",),
        ("051200 Structural Steel Framing", "053100 Steel Decking", "055000 Metal Fabrications"),
        ("Structural Steel", "Misc Metals", "Miscellaneous Metals", "Metal Deck"),
        ("Structual Steel", "Metels"),
    ),
    "06": DivisionNames(
        ("Wood, Plastics & Composites", "Wood & Plastics"),
        ("061000 Rough Carpentry", "064100 Architectural Wood Casework"),
        ("Millwork", "Casework", "Rough Carpentry", "Finish Carpentry"),
        ("Millwrok", "Carpentery"),
    ),
    "07": DivisionNames(
        ("Thermal & Moisture Protection", "Thermal and Moisture Protection"),
        ("075400 Thermoplastic Membrane Roofing", "071300 Sheet Waterproofing", "072100 Thermal Insulation"),
        ("Roofing", "Waterproofing", "Insulation", "Firestopping & Sealants"),
        ("Rofing", "Thermal & Moisture Protecton"),
    ),
    "08": DivisionNames(
        ("Openings", "Doors & Windows"),
        ("081113 Hollow Metal Doors and Frames", "084413 Glazed Aluminum Curtain Walls", "087100 Door Hardware"),
        ("Doors & Hardware", "Doors, Frames & Hardware", "Glazing", "Curtain Wall", "Storefront"),
        ("Opennings", "Doors & Hardwre"),
    ),
    "09": DivisionNames(
        ("Finishes",),
        (
            "092900 Gypsum Board",
            "095113 Acoustical Panel Ceilings",
            "096500 Resilient Flooring",
            "099123 Interior Painting",
        ),
        ("Drywall", "Painting", "Flooring", "Acoustical Ceilings", "Tile", "Drywall & Framing"),
        ("Finshes", "Drywal"),
    ),
    "10": DivisionNames(
        ("Specialties",),
        ("102800 Toilet, Bath, and Laundry Accessories", "101400 Signage"),
        ("Toilet Accessories", "Signage", "Toilet Partitions"),
        ("Specialities",),
    ),
    "11": DivisionNames(
        ("Equipment",),
        ("114000 Foodservice Equipment", "111300 Loading Dock Equipment"),
        ("Kitchen Equipment", "Food Service Equipment", "Loading Dock Equipment"),
        ("Equipmnet",),
    ),
    "12": DivisionNames(
        ("Furnishings",),
        ("122413 Roller Window Shades",),
        ("Window Treatments", "Blinds & Shades", "Furniture"),
        ("Furnishngs",),
    ),
    "13": DivisionNames(
        ("Special Construction",),
        ("133419 Metal Building Systems",),
        ("Pre-Engineered Structures", "Special Construction"),
        ("Special Constrution",),
    ),
    "14": DivisionNames(
        ("Conveying Equipment", "Conveying Systems"),
        ("142100 Electric Traction Elevators", "142400 Hydraulic Elevators"),
        ("Elevators", "Elevator", "Vertical Transportation"),
        ("Elevaters",),
    ),
    "21": DivisionNames(
        ("Fire Suppression",),
        ("211313 Wet-Pipe Sprinkler Systems",),
        ("Fire Protection", "Sprinklers", "Fire Sprinkler"),
        ("Fire Supression", "Fire Sprinkers"),
    ),
    "22": DivisionNames(
        ("Plumbing",),
        ("221116 Domestic Water Piping", "221316 Sanitary Waste and Vent Piping"),
        ("Plumbing", "Plumbing & Piping"),
        ("Plumbng", "Plumbign"),
    ),
    "23": DivisionNames(
        ("HVAC", "Heating, Ventilating & Air Conditioning", "Mechanical"),
        (
            "233113 Metal Ducts",
            "237313 Modular Indoor Central-Station Air-Handling Units",
            "230593 Testing, Adjusting, and Balancing for HVAC",
        ),
        ("Mechanical/HVAC", "HVAC", "Mechanical", "HVAC & Controls", "Sheet Metal"),
        ("Mechancial", "HVAC/Mechancial"),
    ),
    "26": DivisionNames(
        ("Electrical",),
        ("260519 Low-Voltage Electrical Power Conductors and Cables", "262416 Panelboards", "265100 Interior Lighting"),
        ("Electrical", "Electrical & Lighting", "Power & Lighting"),
        ("Electical", "Elecrtical"),
    ),
    "27": DivisionNames(
        ("Communications",),
        ("271500 Communications Horizontal Cabling",),
        ("Low Voltage", "Data & Telecom", "Structured Cabling"),
        ("Comunications", "Low Votage"),
    ),
    "28": DivisionNames(
        ("Electronic Safety & Security", "Electronic Safety and Security"),
        ("283100 Fire Detection and Alarm", "281300 Access Control"),
        ("Security", "Fire Alarm", "Access Control", "Security Systems"),
        ("Fire Alrm", "Securty"),
    ),
    "31": DivisionNames(
        ("Earthwork",),
        ("312000 Earth Moving", "315000 Excavation Support and Protection"),
        ("Sitework", "Earthwork", "Excavation", "Site Grading", "Shoring"),
        ("Earthwrok", "Sitwork"),
    ),
    "32": DivisionNames(
        ("Exterior Improvements",),
        ("321216 Asphalt Paving", "329300 Plants"),
        ("Landscaping", "Paving", "Site Improvements", "Asphalt Paving"),
        ("Landscapping", "Exterior Improvments"),
    ),
    "33": DivisionNames(
        ("Utilities",),
        ("331000 Water Utilities", "334000 Storm Drainage Utilities"),
        ("Site Utilities", "Underground Utilities", "Storm Drainage"),
        ("Utilites", "Site Utilties"),
    ),
}

# Names a person would hesitate over; the value is what the owner meant. Used rarely.
AMBIGUOUS: dict[str, str] = {
    "Interiors": "09",
    "Building Envelope": "07",
    "Site Work & Utilities": "31",
    "Specialties & Equipment": "10",
}

# Division spelling styles, how often a file uses each, and whether each division gets one
# name or may be split over several lines' names (a section list, trade words).
STYLE_WEIGHTS: dict[str, float] = {
    "csi_dash": 0.16,  # 03 - Concrete
    "csi_tight": 0.08,  # 03-Concrete
    "div": 0.10,  # Div 26 Electrical
    "division": 0.10,  # Division 09 - Finishes
    "section": 0.10,  # 033000 Cast-in-Place Concrete
    "section_spaced": 0.06,  # 03 30 00 - Cast-in-Place Concrete
    "title": 0.12,  # Concrete
    "trade": 0.18,  # Drywall, Sprinklers
    "upper": 0.10,  # CONCRETE WORK
}
SPLIT_STYLES = frozenset({"section", "section_spaced", "trade", "upper"})

# Scope words for budget line descriptions and schedule activities, per division, in the order
# the work happens (a division's schedule activities take the first few).
SCOPES: dict[str, tuple[str, ...]] = {
    "01": (
        "Mobilization & Temporary Facilities",
        "Project Management & Supervision",
        "Closeout & Demobilization",
        "Contractor Contingency",
        "Insurance & Bonds",
    ),
    "02": ("Selective Demolition", "Hazardous Material Abatement"),
    "03": ("Foundations", "Slab on Grade", "Elevated Slabs", "Topping Slabs", "Site Concrete"),
    "04": ("CMU Walls", "Brick Veneer"),
    "05": ("Steel Erection", "Metal Deck", "Stairs & Railings", "Misc Steel"),
    "06": ("Rough Carpentry", "Casework Install", "Blocking"),
    "07": ("Roof Membrane", "Below-Grade Waterproofing", "Air Barrier", "Sealants"),
    "08": ("Curtain Wall", "Interior Doors", "Storefront Entrances", "Overhead Doors"),
    "09": ("Metal Stud Framing", "Gypsum Board", "Ceramic Tile", "ACT Ceilings", "Painting", "Resilient Flooring"),
    "10": ("Toilet Accessories", "Wayfinding Signage", "Lockers"),
    "11": ("Kitchen Equipment Install", "Dock Levelers"),
    "12": ("Roller Shades", "Entrance Mats"),
    "13": ("Canopy Structure",),
    "14": ("Elevator Install", "Elevator Inspection"),
    "21": ("Sprinkler Rough-In", "Sprinkler Trim", "Fire Pump"),
    "22": ("Underground Plumbing", "Plumbing Rough-In", "Fixture Setting"),
    "23": ("Ductwork", "Hydronic Piping", "RTU & AHU Setting", "Controls", "Test & Balance"),
    "26": ("Underground Conduit", "Electrical Rough-In", "Switchgear", "Lighting & Trim"),
    "27": ("Cabling Rough-In", "Data Terminations"),
    "28": ("Fire Alarm Devices", "Access Control Install"),
    "31": ("Mass Excavation", "Fine Grading", "Shoring & Underpinning"),
    "32": ("Asphalt Paving", "Landscaping & Irrigation", "Site Furnishings"),
    "33": ("Storm Drainage", "Water Service", "Sanitary Sewer"),
}


def _section_spaced(section: str) -> str:
    """``033000 Cast-in-Place Concrete`` -> ``03 30 00 - Cast-in-Place Concrete``."""
    number, title = section.split(" ", 1)
    return f"{number[:2]} {number[2:4]} {number[4:]} - {title}"


def _prefixed(code: str, style: str, title: str) -> str:
    return {
        "csi_dash": f"{code} - {title}",
        "csi_tight": f"{code}-{title}",
        "div": f"Div {code} {title}",
        "division": f"Division {code} - {title}",
        "title": title,
    }[style]


def style_names(code: str, style: str, typo: bool = False) -> tuple[str, ...]:
    """Every name ``style`` gives division ``code``; with ``typo``, its misspelt forms instead."""
    names = DIVISION_NAMES[code]
    if style in ("section", "section_spaced"):
        sections = names.sections if style == "section" else tuple(map(_section_spaced, names.sections))
        return () if typo else sections
    if style == "trade":
        return names.typos if typo else names.trades
    if style == "upper":
        words = names.typos if typo else names.trades
        return tuple(w.upper() for w in words) + (() if typo else (f"{names.trades[0].upper()} WORK",))
    return tuple(_prefixed(code, style, t) for t in (names.typos if typo else names.titles))


def all_spellings() -> dict[str, str]:
    """Every spelling the generator can write, mapped to its division (ambiguous ones included)."""
    table: dict[str, str] = dict(AMBIGUOUS)
    for code in DIVISION_NAMES:
        for style in STYLE_WEIGHTS:
            for typo in (False, True):
                table.update(dict.fromkeys(style_names(code, style, typo), code))
    return table
