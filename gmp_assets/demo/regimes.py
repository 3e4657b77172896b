"""The demo generator's second data regime, ``independent``: data shaped otherwise than the taxonomy says.

The ``demo`` regime draws budgets, trade timing and cost curves from the taxonomy's typical
columns, which the features also read. The ``independent`` regime does not:

* House profile. Each portfolio draws its own profile once: per division a budget weight
  (taxonomy share^0.3 times lognormal(0, 0.6)), a start and a duration from construction phases
  (site, structure, envelope, MEP, finishes, site improvements; uniform ranges, not the
  taxonomy's), and a curve skew (front- or back-loaded).
* Cost curves. Kumaraswamy(a, b) CDFs (1 - (1 - x^a)^b), front-loaded (a ~ U(1.0, 1.6),
  b ~ U(2.2, 4.0)) or back-loaded (a ~ U(2.2, 3.6), b ~ U(1.0, 1.5)) per the profile.
* Overruns. No project mixture: each trade's ratio is exp(N(-0.01, 0.05)), and a trade is "hit"
  (times exp(N(0.15, 0.10))) with probability 20 % (MEP 21/22/23/26: 40 %), all of a project's
  trades share a factor exp(N(0, 0.05)), and the project's ratio is their budget-weighted mean. A trade x % over runs 1.0 x % longer; the job slips
  max(0, 0.4 x + N(5 %, 8 %)).
* Progress. Reported percent complete is optimistic: true progress (0-10 days old) plus
  ``optimism`` (0.4-0.8) x p x (1 - p) points, never going back, so that the correction lags
  until the true curve catches up.
* Names. Spellings the demo regime never writes (``CSI 03 Concrete``, ``Div. 3 - Concrete``,
  ``03.30.00 Cast-in-Place Concrete``, ``[03] Concrete``, other trade words), each mapped to its
  division by the mapping cascade.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEMO, INDEPENDENT = "demo", "independent"
REGIMES = (DEMO, INDEPENDENT)

# Phase of each division: (start range, duration range) as shares of the planned duration.
PHASES = {
    "site": ((0.0, 0.08), (0.15, 0.35)),
    "structure": ((0.05, 0.25), (0.25, 0.45)),
    "envelope": ((0.3, 0.5), (0.25, 0.45)),
    "mep": ((0.15, 0.4), (0.45, 0.75)),
    "finishes": ((0.5, 0.72), (0.22, 0.45)),
    "improvements": ((0.7, 0.85), (0.1, 0.25)),
}
PHASE_OF = {
    **dict.fromkeys(("02", "31", "33"), "site"),
    **dict.fromkeys(("03", "04", "05", "13"), "structure"),
    **dict.fromkeys(("06", "07", "08"), "envelope"),
    **dict.fromkeys(("14", "21", "22", "23", "26", "27", "28"), "mep"),
    **dict.fromkeys(("09", "10", "11", "12"), "finishes"),
    "32": "improvements",
}
MEP = frozenset({"21", "22", "23", "26"})
TRADE_LOG_MEAN, TRADE_LOG_SD = -0.01, 0.05
HIT_SHARE, HIT_SHARE_MEP, HIT_LOG_MEAN, HIT_LOG_SD = 0.20, 0.40, 0.15, 0.10
PROJECT_LOG_SD = 0.05
TRADE_STRETCH = 1.0
SLIP_PER_OVERRUN, SLIP_MEAN, SLIP_SD = 0.4, 0.05, 0.08

# Spellings the demo regime does not use (see names.py for the ones it does).
TITLES = {
    "01": "General Requirements",
    "02": "Existing Conditions",
    "03": "Concrete",
    "04": "Masonry",
    "05": "Metals",
    "06": "Wood, Plastics and Composites",
    "07": "Thermal and Moisture Protection",
    "08": "Openings",
    "09": "Finishes",
    "10": "Specialties",
    "11": "Equipment",
    "12": "Furnishings",
    "13": "Special Construction",
    "14": "Conveying Equipment",
    "21": "Fire Suppression",
    "22": "Plumbing",
    "23": "HVAC",
    "26": "Electrical",
    "27": "Communications",
    "28": "Electronic Safety and Security",
    "31": "Earthwork",
    "32": "Exterior Improvements",
    "33": "Utilities",
}
SECTIONS = {
    "01": "01.50.00 Temporary Facilities",
    "02": "02.41.00 Demolition",
    "03": "03.30.00 Cast-in-Place Concrete",
    "04": "04.20.00 Unit Masonry",
    "05": "05.12.00 Structural Steel",
    "06": "06.10.00 Rough Carpentry",
    "07": "07.50.00 Membrane Roofing",
    "08": "08.40.00 Entrances and Storefronts",
    "09": "09.21.16 Gypsum Board Assemblies",
    "10": "10.14.00 Signage",
    "11": "11.40.00 Foodservice Equipment",
    "12": "12.20.00 Window Treatments",
    "13": "13.34.00 Fabricated Engineered Structures",
    "14": "14.20.00 Elevators",
    "21": "21.13.00 Fire-Suppression Sprinkler Systems",
    "22": "22.10.00 Plumbing Piping",
    "23": "23.30.00 HVAC Air Distribution",
    "26": "26.50.00 Lighting",
    "27": "27.10.00 Structured Cabling",
    "28": "28.31.00 Fire Detection and Alarm",
    "31": "31.23.00 Excavation and Fill",
    "32": "32.12.00 Flexible Paving",
    "33": "33.40.00 Storm Drainage Utilities",
}
TRADE_WORDS = {
    "01": "Temp Facilities",
    "02": "Abatement & Demo",
    "03": "Formwork & Rebar",
    "04": "Brick Veneer",
    "05": "Steel Erection",
    "06": "Framing Carpentry",
    "07": "Roofing & Waterproofing",
    "08": "Windows & Storefront",
    "09": "Paint & Drywall",
    "10": "Toilet Partitions & Accessories",
    "11": "Foodservice Equipment",
    "12": "Window Blinds",
    "13": "Pre-Engineered Metal Building",
    "14": "Elevator Installation",
    "21": "Fire Sprinklers",
    "22": "Domestic Plumbing",
    "23": "Ductwork & HVAC",
    "26": "Electrical Power",
    "27": "Telecom Cabling",
    "28": "Fire Alarm System",
    "31": "Excavation & Grading",
    "32": "Landscape & Paving",
    "33": "Storm & Sanitary Utilities",
}
NAMING_STYLES = {"csi_label": 0.25, "div_dot": 0.2, "dotted": 0.2, "bracket": 0.15, "words": 0.2}


def independent_name(code: str, style: str) -> str:
    """How the independent regime spells division ``code`` in ``style``."""
    title = TITLES[code]
    return {
        "csi_label": f"CSI {code} {title}",
        "div_dot": f"Div. {int(code)} - {title}",
        "dotted": SECTIONS[code],
        "bracket": f"[{code}] {title}",
        "words": TRADE_WORDS[code],
    }[style]


def independent_spellings() -> dict[str, str]:
    """Every spelling the independent regime can write, mapped to its division."""
    return {independent_name(code, style): code for code in TITLES for style in NAMING_STYLES}


@dataclass(frozen=True)
class HouseProfile:
    """A portfolio's own budget weights, trade windows and curve skews per division."""

    weight: dict[str, float]
    start: dict[str, float]
    duration: dict[str, float]
    back_loaded: dict[str, bool]


def draw_profile(rng: np.random.Generator, taxonomy_shares: dict[str, float]) -> HouseProfile:
    """The independent regime's house profile of one portfolio."""
    codes = sorted(taxonomy_shares)
    weight, start, duration, back = {}, {}, {}, {}
    for code in codes:
        weight[code] = float(taxonomy_shares[code] ** 0.3 * rng.lognormal(0, 0.6))
        if code == "01":
            start[code], duration[code] = 0.0, 1.0
        else:
            (s0, s1), (d0, d1) = PHASES[PHASE_OF[code]]
            start[code], duration[code] = float(rng.uniform(s0, s1)), float(rng.uniform(d0, d1))
        back[code] = bool(rng.random() < 0.5)
    return HouseProfile(weight, start, duration, back)


def draw_curve(rng: np.random.Generator, back_loaded: bool) -> tuple:
    """A Kumaraswamy cost curve, front- or back-loaded."""
    if back_loaded:
        return ("kumaraswamy", float(rng.uniform(2.2, 3.6)), float(rng.uniform(1.0, 1.5)))
    return ("kumaraswamy", float(rng.uniform(1.0, 1.6)), float(rng.uniform(2.2, 4.0)))


def kumaraswamy_cdf(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """1 - (1 - x^a)^b on [0, 1]."""
    return 1.0 - (1.0 - np.clip(x, 0.0, 1.0) ** a) ** b


def budget_shares(rng: np.random.Generator, profile: HouseProfile, codes: list[str]) -> np.ndarray:
    """Per-project budget shares around the house weights."""
    shares = np.array([profile.weight[c] for c in codes]) * rng.lognormal(0, 0.25, len(codes))
    return shares / shares.sum()


def trade_ratios(rng: np.random.Generator, codes: list[str], budgets: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-trade final / budget ratios (a few trades hit hard) and their budget-weighted mean."""
    ratios = np.exp(rng.normal(TRADE_LOG_MEAN, TRADE_LOG_SD, len(codes)))
    hit_share = np.array([HIT_SHARE_MEP if c in MEP else HIT_SHARE for c in codes])
    hit = rng.random(len(codes)) < hit_share
    ratios = ratios * np.where(hit, np.exp(rng.normal(HIT_LOG_MEAN, HIT_LOG_SD, len(codes))), 1.0)
    ratios = ratios * np.exp(rng.normal(0.0, PROJECT_LOG_SD))
    return ratios, float((ratios * budgets).sum() / budgets.sum())


def trade_windows(
    rng: np.random.Generator, profile: HouseProfile, codes: list[str], ratios: np.ndarray, slip: float
) -> dict[str, tuple]:
    """Per code: planned start/finish, actual start/finish (shares of the planned duration), curve."""
    windows = {}
    for code, r in zip(codes, ratios):
        s = float(np.clip(profile.start[code] + rng.normal(0, 0.05), 0.0, 0.9))
        f = float(np.clip(s + profile.duration[code] * np.exp(rng.normal(0, 0.15)), s + 0.08, 1.0))
        if code == "01":
            s, f = 0.0, 1.0
        actual_s = s * (1 + slip)
        actual_f = actual_s + (f - s) * (1 + slip) * (1 + TRADE_STRETCH * max(0.0, r - 1))
        curve = ("kumaraswamy", 1.0, 1.0) if code == "01" else draw_curve(rng, profile.back_loaded[code])
        windows[code] = (s, f, actual_s, actual_f, curve)
    windows["01"] = (0.0, 1.0, 0.0, max(w[3] for w in windows.values()), windows["01"][4])
    return windows


def optimistic(true_pct: float, optimism: float) -> float:
    """Reported percent complete for a true one: biased up most in mid-trade."""
    return true_pct + optimism * true_pct * (100.0 - true_pct) / 100.0
