"""Common trade words, abbreviations and package names per level-1 CSI division.

The fuzzy matcher scores a raw division name against the canonical taxonomy names and these
aliases. Aliases follow MasterFormat 2004 where it is explicit (cold-formed framing is 05, metal
studs 09, fireproofing 07, piling 31, site furnishings 32); otherwise the way GMP breakdowns
usually package the work. ``AMBIGUOUS_TERMS`` name scopes that span several divisions or are no
trade at all (markups, MEP, sheet metal): a name containing one of them goes to review.
"""

from __future__ import annotations

TRADE_ALIASES: dict[str, tuple[str, ...]] = {
    "01": (
        "general conditions", "general requirements", "gen conditions", "gen reqs", "gcs",
        "general conditions staffing", "supervision", "project management", "field supervision",
        "temporary facilities", "temp facilities", "temporary facilities and controls", "temporary construction",
        "mobilization", "final cleaning", "final clean", "testing and inspection",
        "special inspections", "quality control", "closeout", "field office",
    ),
    "02": (
        "demolition", "demo", "selective demolition", "building demolition", "site demolition",
        "abatement", "asbestos abatement", "hazardous materials", "hazmat abatement", "remediation",
        "asbestos remediation", "existing conditions",
    ),
    "03": (
        "concrete", "conc", "cast in place", "cip concrete", "formwork", "forming", "rebar",
        "reinforcing steel", "post tensioning", "post tensioned concrete", "precast", "tilt up",
        "concrete foundations", "foundations and slabs", "slab on grade", "concrete topping",
        "polished concrete", "concrete finishing", "gypsum concrete", "gypcrete", "shotcrete",
        "grout",
    ),
    "04": (
        "masonry", "brick", "block", "brick and block", "cmu", "concrete masonry units",
        "unit masonry", "stone", "stone veneer", "cast stone", "brick veneer", "masonry veneer",
    ),
    "05": (
        "structural steel", "steel", "steel erection", "structural and misc steel", "misc metals",
        "miscellaneous metals", "misc steel", "misc metal fabrications", "metal deck",
        "metal decking", "steel deck", "steel joists", "joists and deck", "ornamental metals",
        "architectural metals", "metalwork", "ironwork", "ornamental iron", "railings",
        "handrails", "metal stairs", "cold formed metal framing", "cold formed framing",
    ),
    "06": (
        "rough carpentry", "finish carpentry", "carpentry", "millwork", "casework",
        "architectural woodwork", "woodwork", "wood framing", "lumber", "countertops",
        "solid surface", "sheathing", "wood and plastics", "wood plastics and composites", "blocking",
    ),
    "07": (
        "roofing", "membrane roofing", "metal roofing", "shingles", "tpo roofing",
        "roofing and sheet metal", "flashing and sheet metal", "sheet metal and flashing",
        "flashing", "waterproofing", "dampproofing", "insulation", "spray foam insulation",
        "caulking", "sealants", "joint sealants", "caulking and sealants", "fireproofing",
        "spray fireproofing", "firestopping", "air barrier", "vapor barrier", "eifs", "siding",
        "metal panels", "metal wall panels", "wall panels", "composite panels", "acm panels",
        "gutters and downspouts", "thermal and moisture protection", "thermal and moisture",
    ),
    "08": (
        "openings", "doors", "frames", "doors and frames", "doors frames and hardware",
        "hardware", "door hardware", "finish hardware", "hollow metal", "hollow metal doors",
        "wood doors", "overhead doors", "coiling doors", "automatic doors", "entrances",
        "glazing", "glass", "glass and glazing", "windows", "curtainwall", "storefront",
        "aluminum storefront", "skylights", "louvers",
    ),
    "09": (
        "finishes", "interior finishes", "drywall", "gypsum", "gypsum board", "gyp board", "gwb",
        "metal studs", "steel studs", "metal stud framing", "framing and drywall",
        "lath and plaster", "plaster", "stucco", "paint", "painting", "painting and coatings",
        "wallcovering", "flooring", "floor covering", "carpet", "resilient flooring", "vct",
        "wood flooring", "epoxy flooring", "tile", "ceramic tile", "tile and stone", "terrazzo",
        "ceilings", "acoustical ceilings", "acoustical", "acoustical treatment",
    ),
    "10": (
        "specialties", "misc specialties", "toilet accessories", "toilet partitions",
        "bath accessories", "signage", "signs", "fire extinguishers", "fire extinguisher cabinets",
        "lockers", "wall protection", "corner guards", "operable partitions", "flagpoles",
        "markerboards", "visual display boards", "postal specialties", "mailboxes",
    ),
    "11": (
        "kitchen equipment", "food service", "appliances", "residential appliances",
        "loading dock equipment", "dock equipment", "laboratory equipment", "athletic equipment",
        "gym equipment", "laundry equipment", "parking equipment",
    ),
    "12": (
        "furnishings", "furniture", "ff and e", "window treatments", "blinds", "shades",
        "roller shades", "window blinds", "entrance mats", "fixed seating", "seating",
    ),
    "13": (
        "special construction", "pre engineered metal building", "pre engineered building",
        "pemb", "swimming pool", "pools", "clean room", "radiation shielding",
    ),
    "14": (
        "elevators", "elevator", "escalators", "elevators and escalators", "conveying",
        "conveying systems", "vertical transportation", "lifts", "wheelchair lift", "dumbwaiters",
        "moving walks",
    ),
    "21": (
        "fire protection", "fire sprinklers", "sprinklers", "sprinkler", "fire sprinkler systems",
        "fire suppression", "standpipes", "fire pump", "fp",
    ),
    "22": (
        "plumbing", "plbg", "plumb", "plumbing fixtures", "domestic water", "plumbing piping",
        "water heaters", "sanitary waste and vent",
    ),
    "23": (
        "mechanical", "mech", "hvac", "mechanical hvac", "ductwork", "duct", "heating",
        "ventilation", "air conditioning", "heating and ventilation", "hvac controls",
        "temperature controls", "building automation", "bas", "bms", "test and balance",
        "testing adjusting and balancing", "hydronic piping", "boilers", "chillers",
        "air handling units", "mechanical insulation", "duct insulation",
        "pipe insulation", "piping insulation",
    ),
    "26": (
        "electrical", "electric", "elec", "lighting", "light fixtures", "lighting fixtures",
        "lighting controls", "power", "power distribution", "power and lighting",
        "electrical service", "switchgear", "generator", "emergency generator", "photovoltaic",
        "solar pv",
    ),
    "27": (
        "communications", "low voltage", "data", "telecom", "telecommunications", "voice and data",
        "voice data", "structured cabling", "data cabling", "audio visual", "av",
        "distributed antenna system", "das",
    ),
    "28": (
        "security", "fire alarm", "fire alarm and detection", "access control",
        "security and access control", "cctv", "video surveillance", "intrusion detection",
        "mass notification", "electronic safety and security",
    ),
    "31": (
        "earthwork", "earthworks", "sitework", "excavation", "mass excavation",
        "excavation and backfill", "excavation and fill", "grading", "earthwork and grading",
        "site preparation", "site prep", "site clearing", "clearing and grubbing",
        "site clearance", "erosion control", "erosion and sediment control", "shoring",
        "excavation support", "dewatering", "piling", "piles", "driven piles", "auger cast piles",
        "caissons", "drilled piers", "soil stabilization",
    ),
    "32": (
        "exterior improvements", "site improvements", "landscaping", "landscape", "irrigation",
        "landscape and irrigation", "planting", "paving", "asphalt paving", "asphalt",
        "concrete paving", "site concrete", "curbs and sidewalks", "sidewalks", "hardscape",
        "pavement markings", "striping", "fencing", "fences and gates", "site furnishings",
        "retaining walls",
    ),
    "33": (
        "utilities", "site utilities", "underground utilities", "wet utilities", "storm",
        "storm drainage", "storm sewer", "sanitary sewer", "sewer", "storm and sewer",
        "water distribution", "water main", "site water", "dry utilities",
    ),
}

AMBIGUOUS_TERMS: tuple[str, ...] = (
    "mep", "m e p", "sheet metal", "piping", "fee", "overhead and profit", "markup", "insurance",
    "builders risk", "bond", "tax", "escalation", "contingency", "allowances", "miscellaneous",
    "misc", "other",
)
