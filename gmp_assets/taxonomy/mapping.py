"""Map raw division names onto level-1 CSI divisions: confirmed > CSI prefix > fuzzy > pending.

Pure functions of the name and the taxonomy, no database. Each result carries the five best
level-1 candidates for the review queue.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from gmp_assets.taxonomy.aliases import AMBIGUOUS_TERMS, TRADE_ALIASES
from gmp_assets.taxonomy.names import name_key
from gmp_assets.taxonomy.trades import Taxonomy, load_taxonomy

MANUAL, CSI_PREFIX, FUZZY, PENDING = "manual", "csi_prefix", "fuzzy", "pending"
AUTOMATIC_METHODS = frozenset({CSI_PREFIX, FUZZY})
PREFIX_CONFIDENCE = 0.95
N_CANDIDATES = 5
# A second division scoring within RIVAL_MARGIN points of the best (and at least RIVAL_FLOOR)
# makes a name ambiguous ("Plumbing & HVAC").
RIVAL_MARGIN = 15.0
RIVAL_FLOOR = 75.0
# In names of up to SPELLED_WORDS specific words, an unknown word of 4+ letters is corrected to
# the only trade word with the same first letter one edit away (a letter added, dropped,
# changed, or two swapped: "concerte" -> "concrete"); the score is then scaled by their
# fuzz.ratio (87.5). Long names are free text (P6 activity names) where a near miss is more
# often another word.
SPELLED_WORDS = 3
# Ordinary words one edit away from a trade word: never corrected.
COMMON_WORDS = frozenset({"planning", "plating", "pointing", "single"})
# Word scorers. SORTED_WORDS (the default): the ratio of the sorted words of name and choice, so
# words the choice lacks lower the score ("House 1 Finish" is not "Finishes"). A name holding all
# of a choice's words and more scores as a full match only when every further word is generic or
# a word of the same division ("Paint & Wallcovering", "Food Service Equipment"); otherwise
# ("Finish Carpentry" for finishes, "Phase 1 Sitework") at most SUBSET_SCORE, below the threshold:
# the division is offered first to the reviewer, not mapped. WORD_SET (fuzz.token_set_ratio)
# rates any name holding a choice's words 100: kept to measure the two (bench/mapping_quality.py).
SORTED_WORDS = "token_sort"
WORD_SET = "token_set"  # fuzz.token_set_ratio (the scorer before token_sort)
SUBSET_SCORE = 80.0

# Dropped everywhere: they say nothing about the trade.
STOPWORDS = frozenset(
    {
        "work",
        "division",
        "div",
        "csi",
        "masterformat",
        "trade",
        "subcontract",
        "subcontractor",
        "sub",
        "contract",
        "package",
        "scope",
        "cost",
        "budget",
        "gmp",
        "item",
        "line",
        "total",
        "labor",
        "material",
        "install",
        "installation",
        "supply",
        "the",
        "of",
        "for",
        "to",
        "in",
        "at",
        "on",
        "by",
        "w",
        "with",
    }
)
# Kept for whole-name similarity but never matched on their own, so "Elevator Equipment" is
# conveying (14), not equipment (11), and "General Trades" or "Sheet Metal" match no division.
GENERIC_WORDS = frozenset(
    {
        "and",
        "or",
        "construction",
        "special",
        "specialty",
        "general",
        "gen",
        "equipment",
        "system",
        "service",
        "metal",
        "exterior",
        "interior",
        "existing",
        "new",
        "building",
        "improvement",
        "facility",
        "misc",
        "miscellaneous",
        "other",
        "unit",
        "fixture",
        "accessory",
        "component",
        "assembly",
        "product",
    }
)
# Word pairs written both apart and together.
JOINED_WORDS = {
    ("site", "work"): "sitework",
    ("earth", "work"): "earthwork",
    ("mill", "work"): "millwork",
    ("case", "work"): "casework",
    ("form", "work"): "formwork",
    ("duct", "work"): "ductwork",
    ("metal", "work"): "metalwork",
    ("iron", "work"): "ironwork",
    ("dry", "wall"): "drywall",
    ("curtain", "wall"): "curtainwall",
    ("store", "front"): "storefront",
    ("fire", "proofing"): "fireproofing",
    ("fire", "stopping"): "firestopping",
    ("water", "proofing"): "waterproofing",
    ("damp", "proofing"): "dampproofing",
    ("wall", "covering"): "wallcovering",
    ("hard", "scape"): "hardscape",
    ("food", "service"): "foodservice",
}

_SEP = r"[\s._\-\u2013\u2014]"
_NUMBER_TAIL = rf"(?:\d{{4}}|\d{{2}})?(?:{_SEP}\d{{1,4}}){{0,2}}(?![\w%$]|[.,]\d)"
# "Div 3", "Div. 26 Electrical", "Division 09 - Finishes": one or two digits after the label.
_LABELLED_PREFIX = re.compile(
    rf"^[\s(\[]*(?:division|div|csi)[\s.#:_\-]*(\d{{2}}|\d(?!\d)){_NUMBER_TAIL}", re.IGNORECASE
)
# "03 - Concrete", "033000", "03 30 00", "03-300", "0330": two digits, never one ("2nd floor"),
# never five (MasterFormat 1995 numbers such as "02200 Earthwork" mean other divisions), and
# not a quantity ("12 Month Warranty", "14 Story Tower").
_BARE_PREFIX = re.compile(rf"^[\s(\[]*(\d{{2}}){_NUMBER_TAIL}")
_QUANTITY = re.compile(
    r"\s+(?:days?|weeks?|months?|years?|hours?|hrs?|mins?|minutes?|mm|cm|m|km|ft|feet|foot"
    r"|inch(?:es)?|lf|sf|sy|cy|ea|nr|no|tons?|tonnes?|kva?|kw|mw|stor(?:y|ey|ies|eys)|floors?"
    r"|levels?|lots?|units?|percent|pct|x)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Candidate:
    """A level-1 division offered to the reviewer, with its score (0-100)."""

    code: str
    name: str
    score: float


@dataclass(frozen=True)
class TradeMapping:
    """The mapping of one raw division name; ``canonical_code`` is None while pending."""

    raw_division_name: str
    canonical_code: str | None
    method: str
    confidence: float
    candidates: tuple[Candidate, ...]


def normalise(text: str) -> tuple[str, ...]:
    """Lower-case, singular word tokens: accents, punctuation, numbers and stopwords dropped."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    text = text.replace("'", "").replace("&", " and ").replace("+", " and ")
    words: list[str] = []
    for token in re.split(r"[^a-z0-9]+", text):
        if not token or any(ch.isdigit() for ch in token):
            continue
        token = _stem(token)
        if words and (words[-1], token) in JOINED_WORDS:
            words[-1] = JOINED_WORDS[(words[-1], token)]
        else:
            words.append(token)
    return tuple(w for w in words if w not in STOPWORDS)


def _stem(token: str) -> str:
    """Crude English singular: ceilings -> ceiling, finishes -> finish, utilities -> utility."""
    if len(token) <= 3 or token.endswith(("ss", "us", "is")):
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith(("ches", "shes", "sses", "xes", "zes")):
        return token[:-2]
    return token[:-1] if token.endswith("s") else token


def _content(tokens: tuple[str, ...]) -> str:
    return " ".join(t for t in tokens if t not in GENERIC_WORDS)


def _contains_run(tokens: tuple[str, ...], run: tuple[str, ...]) -> bool:
    return any(tokens[i : i + len(run)] == run for i in range(len(tokens) - len(run) + 1))


@dataclass(frozen=True)
class _Choice:
    code: str | None  # None: an ambiguous term
    tokens: tuple[str, ...]
    content: frozenset[str]


@dataclass(frozen=True)
class _Query:
    tokens: tuple[str, ...]  # as written
    fixed: tuple[str, ...]  # spelling corrected
    penalty: float  # worst correction ratio / 100; 1.0 when nothing was corrected


class TradeMapper:
    """Maps raw division names to level-1 codes; build once, call many times."""

    def __init__(self, taxonomy: Taxonomy | None = None, threshold: float = 85.0, scorer: str = SORTED_WORDS) -> None:
        if scorer not in (SORTED_WORDS, WORD_SET):
            raise ValueError(f"unknown word scorer {scorer!r}; expected {SORTED_WORDS!r} or {WORD_SET!r}")
        self.taxonomy = taxonomy or load_taxonomy()
        self.threshold = threshold
        self.scorer = scorer
        self._division_names = {d.code: d.name for d in self.taxonomy.divisions}
        self._codes = tuple(self._division_names)
        self._choices = self._build_choices()
        self._full = [" ".join(c.tokens) for c in self._choices]
        # Word matching compares the name's specific words with a choice's words; a choice
        # made of generic words only ("Equipment", "Special Construction") must match whole.
        # Both word scorers of word sets that share no word are the ratio of the sorted words,
        # so the costly scorer runs only on choices sharing a word (found through _by_word).
        self._sorted_words = [" ".join(sorted(set(c.tokens))) if c.content else "" for c in self._choices]
        self._by_word: dict[str, list[int]] = {}
        for i, choice in enumerate(self._choices):
            for word in set(choice.tokens) if choice.content else ():
                self._by_word.setdefault(word, []).append(i)
        code_index = {code: i for i, code in enumerate(self._codes)}
        self._choice_division = np.array([code_index.get(c.code or "", -1) for c in self._choices])
        self._trade_words = sorted({t for c in self._choices for t in c.content})
        # Per division: the words of its choices, less those that alone name another division
        # ("concrete" is in "Concrete Masonry Units" but names 03 itself).
        alone: dict[str, set[str]] = {}
        for choice in self._choices:
            if len(choice.tokens) == 1 and choice.code is not None:
                alone.setdefault(choice.tokens[0], set()).add(choice.code)
        self._vocabulary: dict[str, frozenset[str]] = {}
        for code in self._codes:
            words = {t for c in self._choices if c.code == code for t in c.tokens}
            self._vocabulary[code] = frozenset(w for w in words if alone.get(w, {code}) == {code}) | GENERIC_WORDS
        self._known = frozenset(self._trade_words).union(
            *(c.tokens for c in self._choices), STOPWORDS, GENERIC_WORDS, COMMON_WORDS
        )
        self._correct = lru_cache(maxsize=16384)(self._correct_word)
        self._automatic = lru_cache(maxsize=65536)(self._map_automatically)

    def map_name(self, raw_name: str, confirmed: Mapping[str, str] | None = None) -> TradeMapping:
        """Map one name as read (``names.name_key``): a confirmed mapping, else a CSI prefix, else a fuzzy
        match, else pending. The result keeps the name as written."""
        return self._map(raw_name, _confirmed_index(confirmed))

    def map_names(self, raw_names: Iterable[str], confirmed: Mapping[str, str] | None = None) -> list[TradeMapping]:
        """Map each distinct name once, in order of first appearance."""
        index = _confirmed_index(confirmed)
        return [self._map(name, index) for name in dict.fromkeys(raw_names)]

    def is_trade_name(self, name: str) -> bool:
        """True when ``name`` maps automatically (CSI prefix or fuzzy), without review."""
        return self._automatic(name_key(name)).method in AUTOMATIC_METHODS

    def _map(self, raw_name: str, confirmed: Mapping[str, str]) -> TradeMapping:
        code = confirmed.get(raw_name) or confirmed.get(_key(raw_name))
        if code is None:
            mapping = self._automatic(name_key(raw_name))
            return mapping if mapping.raw_division_name == raw_name else replace(mapping, raw_division_name=raw_name)
        if code not in self.taxonomy.by_code:
            raise ValueError(f"confirmed mapping of {raw_name!r} names unknown code {code!r}")
        division = self.taxonomy.division_of(code)
        scores = self._division_scores(self._score(self._query(name_key(raw_name)))[0])
        scores[division] = 100.0
        return TradeMapping(raw_name, division, MANUAL, 1.0, self._candidates(scores, division))

    def _map_automatically(self, raw_name: str) -> TradeMapping:
        prefix = self._prefix(raw_name)
        if prefix is not None:
            code, rest = prefix
            fuzzy_code, scores = self._fuzzy(self._query(rest))
            own = scores[code]
            scores[code] = max(own, PREFIX_CONFIDENCE * 100)
            # The words after the number name another division ("02 - Sitework" in
            # MasterFormat 1995 numbering): trust neither, ask a person.
            if fuzzy_code in (None, code) or own >= self.threshold:
                candidates = self._candidates(scores, code)
                return TradeMapping(raw_name, code, CSI_PREFIX, PREFIX_CONFIDENCE, candidates)
            return self._pending(raw_name, scores)
        fuzzy_code, scores = self._fuzzy(self._query(raw_name))
        if fuzzy_code is None:
            return self._pending(raw_name, scores)
        confidence = round(scores[fuzzy_code] / 100, 4)
        candidates = self._candidates(scores, fuzzy_code)
        return TradeMapping(raw_name, fuzzy_code, FUZZY, confidence, candidates)

    def _pending(self, raw_name: str, scores: dict[str, float]) -> TradeMapping:
        candidates = self._candidates(scores)
        return TradeMapping(raw_name, None, PENDING, round(candidates[0].score / 100, 4), candidates)

    def _prefix(self, raw_name: str) -> tuple[str, str] | None:
        """The known division a leading CSI number names, and the text after the number."""
        match = _LABELLED_PREFIX.match(raw_name)
        if match is None:
            match = _BARE_PREFIX.match(raw_name)
            if match is None or _QUANTITY.match(raw_name, match.end()):
                return None
        code = match.group(1).zfill(2)
        return (code, raw_name[match.end() :]) if code in self._division_names else None

    def _fuzzy(self, query: _Query) -> tuple[str | None, dict[str, float]]:
        """The division the words name, if exactly one does; and every division's score."""
        score, whole = self._score(query)
        scores = self._division_scores(score)
        words = frozenset(_content(query.fixed).split())
        near = np.flatnonzero(score >= RIVAL_FLOOR)
        matched = {i for i in near if self._contains(i, words)}
        best = max((float(score[i]) for i in matched), default=0.0)
        if best < self.threshold:
            return None, scores
        # Rivals: other matches close to the best; near misses too while a word of the name is
        # unknown (a misspelling left uncorrected may name another trade).
        unknown = any(t not in self._known for t in query.fixed)
        band = [
            i
            for i in near
            if score[i] >= best - RIVAL_MARGIN and (i in matched or (unknown and self._choices[i].code is not None))
        ]
        # Among the best matches, one that is (nearly) the whole name decides:
        # "Concrete Masonry" is masonry although "concrete" matches as well as a word.
        top = [i for i in band if i in matched and score[i] >= best]
        whole_best = max(float(whole[i]) for i in top)
        if whole_best >= self.threshold:
            codes = {self._choices[i].code for i in top if whole[i] >= whole_best}
        else:
            # Word matches: drop a choice whose words are part of a longer one written out in
            # the name ("Concrete" inside "Site Concrete & Paving"); the rest must agree.
            kept = [i for i in band if not any(self._dominates(j, i, query) for j in band)]
            codes = {self._choices[i].code for i in kept}
        code = codes.pop() if len(codes) == 1 else None
        return (code if code is not None and scores[code] >= self.threshold else None), scores

    def _contains(self, i: int, words: frozenset[str]) -> bool:
        """Whether choice i can be chosen: all its words are in the name, or the name has two or
        more words and all are in the choice. A near miss between different words ("Framing"
        and "Forming" score 86) is never a match; misspellings are corrected before this.
        An ambiguous term thus counts when the name contains it ("Sheet Metal Ductwork"), not
        when it contains the name ("Sheet")."""
        choice = self._choices[i]
        return choice.content <= words or (choice.code is not None and len(words) >= 2 and words <= set(choice.tokens))

    def _dominates(self, j: int, i: int, query: _Query) -> bool:
        longer, shorter = self._choices[j], self._choices[i]
        return (
            longer.code != shorter.code
            and shorter.content < longer.content
            and _contains_run(query.fixed, longer.tokens)
        )

    def _score(self, query: _Query) -> tuple[np.ndarray, np.ndarray]:
        """Per choice: the match score (0-100) and the whole-name similarity.

        Scorer: fuzz.ratio over the whole normalised name, or, when the name has a specific
        (non-generic) word, the word score (:meth:`_word_scores`), whichever is higher. Not
        WRatio: its partial matching maps ambiguous names with high confidence ("Site" ->
        "site improvements", "Equipment Rental" -> "equipment").
        """
        variants = [query.tokens] if query.fixed == query.tokens else [query.tokens, query.fixed]
        weights = np.array([1.0, query.penalty][: len(variants)])[:, None]
        texts = [" ".join(v) for v in variants]
        whole = (process.cdist(texts, self._full, scorer=fuzz.ratio) * weights).max(axis=0)
        if not _content(query.tokens):
            return whole, whole
        return np.maximum(whole, (self._word_scores(texts) * weights).max(axis=0)), whole

    def _word_scores(self, texts: list[str]) -> np.ndarray:
        """Each text against every choice's words (0 for generic-only choices).

        SORTED_WORDS: the ratio of the sorted distinct words; where the text holds all of the
        choice's words and more, 100 if every further word is generic or of the choice's division,
        else at least SUBSET_SCORE. WORD_SET: fuzz.token_set_ratio. A single word gets no credit
        for being part of a longer choice: "Floor" is not "Floor Covering", "Access" not "Access
        Control".
        """
        keys = [" ".join(sorted(set(text.split()))) for text in texts]
        scores = process.cdist(keys, self._sorted_words, scorer=fuzz.ratio)
        for row, text in enumerate(texts):
            if " " not in text:
                continue
            words = set(text.split())
            shared = {i for word in words for i in self._by_word.get(word, ())}
            for i in shared:
                choice = self._choices[i]
                if self.scorer == WORD_SET:
                    scores[row, i] = fuzz.token_set_ratio(text, self._full[i])
                elif set(choice.tokens) < words:
                    own = self._vocabulary.get(choice.code or "", GENERIC_WORDS)
                    scores[row, i] = 100.0 if words <= own.union(choice.tokens) else max(scores[row, i], SUBSET_SCORE)
        return scores

    def _division_scores(self, score: np.ndarray) -> dict[str, float]:
        best = np.zeros(len(self._codes))
        mask = self._choice_division >= 0
        np.maximum.at(best, self._choice_division[mask], score[mask])
        return {code: round(float(s), 2) for code, s in zip(self._codes, best)}

    def _candidates(self, scores: dict[str, float], chosen: str | None = None) -> tuple[Candidate, ...]:
        """The best divisions by score; the chosen one first among equals."""
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0] != chosen, item[0]))
        names = self._division_names
        return tuple(Candidate(code, names[code], score) for code, score in ranked[:N_CANDIDATES])

    def _query(self, text: str) -> _Query:
        tokens = normalise(text)
        if len(_content(tokens).split()) > SPELLED_WORDS:
            return _Query(tokens, tokens, 1.0)
        fixed, penalty = [], 1.0
        for token in tokens:
            word, ratio = self._correct(token)
            fixed.append(word)
            penalty = min(penalty, ratio / 100)
        return _Query(tokens, tuple(fixed), penalty)

    def _correct_word(self, token: str) -> tuple[str, float]:
        if token in self._known or len(token) < 4:
            return token, 100.0
        near = process.extract(token, self._trade_words, scorer=OSA.distance, score_cutoff=1, limit=None)
        words = [word for word, _, _ in near if word[0] == token[0]]
        return (words[0], fuzz.ratio(token, words[0])) if len(words) == 1 else (token, 100.0)

    def _build_choices(self) -> tuple[_Choice, ...]:
        named: list[tuple[str | None, str]] = []
        for trade in self.taxonomy.all:
            division = self.taxonomy.division_of(trade.code)
            named += [(division, trade.name), (division, re.sub(r"\(.*?\)", " ", trade.name))]
        for code, aliases in TRADE_ALIASES.items():
            if code not in self._division_names:
                raise ValueError(f"aliases name unknown division {code!r}")
            named += [(code, alias) for alias in aliases]
        named += [(None, term) for term in AMBIGUOUS_TERMS]
        by_tokens: dict[tuple[str, ...], str | None] = {}
        for code, text in named:
            tokens = normalise(text)
            if not tokens:
                raise ValueError(f"taxonomy name or alias {text!r} has no words left")
            if by_tokens.setdefault(tokens, code) != code:
                raise ValueError(f"{text!r} is listed under {by_tokens[tokens]!r} and {code!r}")
        return tuple(_Choice(code, tokens, frozenset(_content(tokens).split())) for tokens, code in by_tokens.items())


def _key(name: str) -> str:
    """A name as compared with confirmed ones: its reader's key, case and spacing ignored."""
    return " ".join(name_key(name).split()).casefold()


def _confirmed_index(confirmed: Mapping[str, str] | None) -> dict[str, str]:
    """Confirmed codes by exact name and by name as read (case, spacing, look-alikes ignored)."""
    if not confirmed:
        return {}
    index = {_key(name): code for name, code in confirmed.items()}
    index.update(confirmed)
    return index
