"""The words a coder types into the encoder, as a PostgreSQL tsquery.

Shared by the code search (codesets/search.py) and the index search
(codesets/index_search.py). Each word must be the start of a word of the text, as
typed ('simple') or stemmed ('english'): "diabetic" finds "diabetes", "excisio" finds
"excision" although its stem is "excis".

Coders also type the abbreviations of the chart ("chf", "copd", "htn"). The code
sets spell the conditions out, so a word that is a known abbreviation matches the
words it stands for (stemmed, all of them) or the abbreviation itself as a whole
word, and is not taken as the start of a longer word: "mi" is a myocardial
infarction, not every word beginning "mi" ("mig" then finds migraine). The list is
ours, kept short and unambiguous: an abbreviation with two common meanings (CP: chest
pain or cerebral palsy; CA) is left out rather than guessed, and so is one that is
also the start of words coders abbreviate to ("uri" for urinary, "ami" for
amiodarone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

WORD = re.compile(r"[a-z0-9]+")
MAX_WORDS = 8

# abbreviation -> the words of the code sets it stands for (no stop words: to_tsquery
# drops them with a notice; a test checks). bench/check_abbreviations.py searches each
# one on the full FY2026 code sets and fails when one finds nothing.
ABBREVIATIONS: dict[str, str] = {
    "aaa": "abdominal aortic aneurysm",
    "abx": "antibiotic",
    "adhd": "attention deficit hyperactivity",
    "ahrf": "acute respiratory failure hypoxia",
    "aml": "acute myeloblastic leukemia",
    "cll": "chronic lymphocytic leukemia",
    "dm1": "type 1 diabetes mellitus",
    "dm2": "type 2 diabetes mellitus",
    "ecg": "electrocardiogram",
    "hcc": "liver cell carcinoma",
    "ich": "intracerebral hemorrhage",
    "ibs": "irritable bowel syndrome",
    "ibd": "inflammatory bowel",
    "iddm": "type 1 diabetes mellitus",
    "niddm": "type 2 diabetes mellitus",
    "ra": "rheumatoid arthritis",
    "sah": "subarachnoid hemorrhage",
    "sdh": "subdural hemorrhage",
    "sle": "systemic lupus erythematosus",
    "t1dm": "type 1 diabetes mellitus",
    "ugib": "gastrointestinal hemorrhage",
    "afib": "atrial fibrillation",
    "aflutter": "atrial flutter",
    "aki": "acute kidney failure",
    "ards": "acute respiratory distress syndrome",
    "bmi": "body mass index",
    "bph": "benign prostatic hyperplasia",
    "cabg": "coronary artery bypass",
    "chf": "congestive heart failure",
    "ckd": "chronic kidney disease",
    "copd": "chronic obstructive pulmonary disease",
    "cva": "cerebral infarction",
    "dka": "diabetes ketoacidosis",
    "dm": "diabetes mellitus",
    "dvt": "deep vein thrombosis",
    "esrd": "end stage renal disease",
    "etoh": "alcohol",
    "fx": "fracture",
    "gerd": "gastro esophageal reflux disease",
    "gib": "gastrointestinal hemorrhage",
    "hf": "heart failure",
    "hcv": "hepatitis c",
    "hbv": "hepatitis b",
    "hld": "hyperlipidemia",
    "htn": "hypertension",
    "hx": "history",
    "mdd": "major depressive disorder",
    "mi": "myocardial infarction",
    "osa": "obstructive sleep apnea",
    "pe": "pulmonary embolism",
    "pna": "pneumonia",
    "ptsd": "post traumatic stress disorder",
    "pvd": "peripheral vascular disease",
    "sob": "shortness breath",
    "t2dm": "type 2 diabetes mellitus",
    "tia": "transient ischemic attack",
    "uti": "urinary tract infection",
    "vte": "venous embolism thrombosis",
    # Chart shorthand of sites and sides (issue 12, second pass): each stands for the
    # words the tabular prints ("upper lobe, right bronchus or lung" C34.11; "upper-
    # outer quadrant of left female breast" C50.412; "cataract, right eye" H25.11).
    "rul": "upper lobe right",
    "rml": "middle lobe",
    "rll": "lower lobe right",
    "lul": "upper lobe left",
    "lll": "lower lobe left",
    "uoq": "upper outer quadrant",
    "uiq": "upper inner quadrant",
    "loq": "lower outer quadrant",
    "liq": "lower inner quadrant",
    "ou": "bilateral eyes",
    "mca": "middle cerebral artery",
    "aca": "anterior cerebral artery",
    "lad": "left anterior descending",
    "rca": "right coronary artery",
    "lcx": "circumflex",
    "cad": "atherosclerotic heart disease",
    "dfu": "diabetes foot ulcer",
    "dz": "disease",
    "lac": "laceration",
    "mets": "secondary malignant neoplasm",
    "nstemi": "non st elevation myocardial infarction",
}

# Words that say the coder is after a pregnancy or newborn code: without one of them,
# the code search lists ICD-10-CM's maternity and newborn codes after the others
# ("uti" is N39.0 before P39.3 "Neonatal urinary tract infection"). A word matches
# when it starts one of these stems or one starts it ("preg" and "pregnancies").
POPULATION_STEMS = (
    "pregnan",
    "puerper",
    "matern",
    "obstetr",
    "labor",
    "labour",
    "deliver",
    "gestat",
    "fetus",
    "fetal",
    "newborn",
    "neonat",
    "perinat",
    "birth",
    "postpartum",
    "antepartum",
    "abortion",
    "ectopic",
    "molar",
    "eclampsi",
    "placent",
    "umbilic",
    "preterm",
    "trimester",
    "infant",
    "lactat",
    "breast",
)


def mentions_population(words: list[str]) -> bool:
    return any(
        len(word) >= 3 and (stem.startswith(word) or word.startswith(stem))
        for word in words
        for stem in POPULATION_STEMS
    )


# A typed word: the start of a word, stemmed or as typed.
WORD_TSQUERY = "(to_tsquery('english', %s) || to_tsquery('simple', %s))"
# A known abbreviation: the abbreviation as a whole word, or all the words it stands for.
ABBREVIATION_TSQUERY = "(to_tsquery('simple', %s) || to_tsquery('english', %s))"


def query_words(query: str) -> list[str]:
    """The words of a query, lower case, letters and digits only, at most 8."""
    return WORD.findall(query.lower())[:MAX_WORDS]


def words_tsquery(words: list[str]) -> tuple[str, list[str]]:
    """SQL of a tsquery matching text that holds every word, and its parameters.

    Every lexeme in it is letters and digits only (no quote): WORD_SQL in
    codesets/search.py relies on that to tag them."""
    parts: list[str] = []
    params: list[str] = []
    for word in words:
        expansion = ABBREVIATIONS.get(word)
        if expansion is None:
            parts.append(WORD_TSQUERY)
            params += [f"{word}:*", f"{word}:*"]
        else:
            parts.append(ABBREVIATION_TSQUERY)
            params += [word, " & ".join(expansion.split())]
    return " && ".join(parts), params


# --- queries as chart language (issue 12) -------------------------------------------
#
# A query is read as slots, one per typed word or per phrase of the curated synonym
# list (codesets/synonyms.py): each slot holds alternatives (the words as typed, the
# words they stand for), and a code matches when every slot has an alternative whose
# words it all has. Words that only join others ("of", "with") are not required; a
# synonym meaning nothing ("rvr": no code of its own) makes its slot optional.

# A typed token keeps the marks inside it: "covid-19", "40.0-44.9", "s/p", "d&c".
TOKEN = re.compile(r"[a-z0-9]+(?:[-./&][a-z0-9]+)*")
STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "at",
        "by",
        "for",
        "from",
        "in",
        "of",
        "on",
        "or",
        "the",
        "to",
        "w",
        "with",
    }
)
NUMBER = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
# Doses as a MAR writes them ("toradol 30 mg IM", "rocephin 1gm", "foley 16 fr"): the
# dose is not a word a code must have (J-code titles print the billing unit, "per 15
# mg"), so a number with its unit, or a unit alone, is optional; the ranking still
# prefers a title printing the same number (search.QueryTraits.numbers). The short
# units ("g", "u", "l") count only after a number ("l" alone is the left side).
DOSE_UNITS = frozenset(
    {
        "mg",
        "mgs",
        "mcg",
        "gm",
        "gms",
        "gram",
        "grams",
        "ml",
        "cc",
        "meq",
        "fr",
        "french",
    }
    | {"units", "iu", "mmhg", "lpm", "liters", "liter"}
)
AFTER_NUMBER_UNITS = frozenset({"g", "u", "l", "unit", "french", "mm", "cm"})
DOSE = re.compile(r"^[0-9]+(?:\.[0-9]+)?(?:mg|mcg|gm|g|ml|cc|meq|fr|u|units|iu|l|lpm)$")


def dose_tokens(tokens: list[str]) -> set[int]:
    """Positions of the tokens that write a dose: a unit, the number before a unit, a
    number glued to its unit ("30mg")."""
    out: set[int] = set()
    for n, token in enumerate(tokens):
        after_number = n > 0 and bool(NUMBER.match(tokens[n - 1]))
        if (
            DOSE.match(token)
            or token in DOSE_UNITS
            or (token in AFTER_NUMBER_UNITS and after_number)
        ):
            out.add(n)
        if n in out and n and NUMBER.match(tokens[n - 1]) and not DOSE.match(token):
            out.add(n - 1)
    return out


MAX_PHRASE = 5  # words of the longest synonym phrase
MAX_VARIANTS = 6  # phrasings of a query tried as a whole term (search.HEAD_SQL)

# Lexeme modes: a typed word is the start of a word (stemmed or as typed); the words of
# an abbreviation are whole (stemmed) words, the abbreviation itself a whole word.
PREFIX, STEMMED, EXACT = "prefix", "stemmed", "exact"
TERM_SQL = {
    PREFIX: "(to_tsquery('english', %s) || to_tsquery('simple', %s))",
    STEMMED: "to_tsquery('english', %s)",
    EXACT: "to_tsquery('simple', %s)",
}


def typed_words(text: str) -> list[str]:
    """The tokens of a query, lower case: "Alzheimer's" is "alzheimer", "covid-19"
    and "s/p" stay whole (a synonym may name them)."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"'s\b", "", text).replace("'", "")
    return TOKEN.findall(text)


def search_words(token: str) -> list[str]:
    """The words a token is searched as, the way PostgreSQL's parser splits the
    titles: "covid-19" -> covid, -19 (a number after a hyphen is signed: "COVID-19"
    holds '-19', "40.0-44.9" holds '40.0' and '-44.9'); "a-fib" -> afib; "bi-level" ->
    bi, level; "s/p" -> s, p."""
    out: list[str] = []
    for piece in re.split(r"[/&]", token):
        parts = piece.split("-")
        words: list[str] = []
        for n, part in enumerate(parts):
            if not part:
                continue
            if n and NUMBER.match(part):
                words.append("-" + part)
            elif n and len(parts[n - 1]) == 1 and words and parts[n - 1].isalpha():
                words[-1] += part  # a-fib -> afib
            elif "." in part and not NUMBER.match(part):
                words += [p for p in part.split(".") if p]
            else:
                words.append(part)
        out += words
    return out


@dataclass(frozen=True)
class Slot:
    typed: tuple[str, ...]  # the typed tokens the slot stands for
    # each alternative: the (lexeme text, mode) pairs it requires
    alternatives: tuple[tuple[tuple[str, str], ...], ...]
    phrasings: tuple[str, ...]  # the slot as text: typed, then what it means
    optional: bool = False
    # a word the chart says is absent ("no coma"), or the word saying so: optional,
    # and searched for once more as required (search.ranked_search)
    denied: bool = False
    # the alternatives with the words left out of the search (COMMON_WORDS): the
    # ranking asks for them in the title (search.QueryTraits)
    full: tuple[tuple[tuple[str, str], ...], ...] = ()

    @property
    def ranked(self) -> tuple[tuple[tuple[str, str], ...], ...]:
        return self.full or self.alternatives


@dataclass(frozen=True)
class ParsedQuery:
    typed: list[str]
    slots: list[Slot]

    @property
    def required(self) -> list[Slot]:
        return [s for s in self.slots if not s.optional]

    def variants(self) -> list[str]:
        """The query as whole terms: every slot as typed or as what it means, the
        words kept in order ("heart attack" -> "acute myocardial infarction")."""
        out = [""]
        for slot in self.slots:
            out = [
                f"{head} {p}".strip() if p else head
                for head in out
                for p in slot.phrasings
            ][: MAX_VARIANTS * 4]
        seen: list[str] = []
        for v in out:
            if v and v not in seen:
                seen.append(v)
        return seen[:MAX_VARIANTS]


def _words_of(phrase: str, mode: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (w, mode)
        for token in typed_words(phrase)
        if token not in STOP_WORDS
        for w in search_words(token)
    )


def parse_query(query: str, systems: list[str] | None = None) -> ParsedQuery:
    """Slots of a query for the systems searched (None: all of them)."""
    from codesets import synonyms

    synonyms.load()
    wanted = systems or list(synonyms.ALL)
    tables = [synonyms.synonyms_for(s) for s in wanted]
    tokens = typed_words(query)[: MAX_WORDS * 2]
    doses = dose_tokens(tokens)
    slots: list[Slot] = []
    i = 0
    while i < len(tokens) and len(slots) < MAX_WORDS:
        if i in doses:
            slots.append(
                Slot(
                    typed=(tokens[i],), alternatives=(), phrasings=("",), optional=True
                )
            )
            i += 1
            continue
        found = None
        for size in range(min(MAX_PHRASE, len(tokens) - i), 0, -1):
            key = tuple(tokens[i : i + size])
            entries = [t[key] for t in tables if key in t]
            if entries:
                found = (size, entries)
                break
        if found:
            size, entries = found
            typed = tuple(tokens[i : i + size])
            means = [m for e in entries for m in e.means]
            own = _words_of(" ".join(typed), PREFIX)
            # "s/p", "d&c": letters that match every word; only what they mean counts
            junk = any(len(w) == 1 for w, _ in own) and any(means)
            alternatives = [own] if own and not junk else []
            for m in means:
                for words in _expanded(m, tables):
                    if words and words not in alternatives:
                        alternatives.append(words)
            alternatives = _without_redundant(alternatives)
            searched = [_searched(a) for a in alternatives]
            phrasings = [" ".join(typed)] + [m for m in means if m]
            slots.append(
                Slot(
                    full=tuple(alternatives) if searched != alternatives else (),
                    typed=typed,
                    alternatives=tuple(_without_redundant(searched)),
                    phrasings=tuple(dict.fromkeys(phrasings)),
                    optional=any(not m for m in means) or not alternatives,
                )
            )
            i += size
            continue
        token = tokens[i]
        i += 1
        joined = search_words(token)
        expansion = ABBREVIATIONS.get(token) or (
            ABBREVIATIONS.get(joined[0]) if len(joined) == 1 else None
        )
        if expansion is not None:
            token = joined[0] if token not in ABBREVIATIONS else token
            slots.append(
                Slot(
                    typed=(token,),
                    alternatives=(
                        ((token, EXACT),),
                        tuple((w, STEMMED) for w in expansion.split()),
                    ),
                    phrasings=(token, expansion),
                )
            )
        elif token in STOP_WORDS:
            slots.append(
                Slot(typed=(token,), alternatives=(), phrasings=(token,), optional=True)
            )
        else:
            words = tuple((w, PREFIX) for w in search_words(token))
            if words:
                slots.append(
                    Slot(typed=(token,), alternatives=(words,), phrasings=(token,))
                )
    if any(s.typed[0] not in CONTEXT_WORDS for s in slots if not s.optional):
        # Where and when the chart was written ("Colles fx L wrist, ED", "ankle
        # sprain f/u visit") is no word of the code's title: such words are not
        # required beside the others (the ranking still reads "f/u": QueryTraits).
        slots = [
            replace(s, optional=True)
            if len(s.typed) == 1 and s.typed[0] in CONTEXT_WORDS
            else s
            for s in slots
        ]
    denied = _denied_slots(slots)
    if denied and any(not s.optional for n, s in enumerate(slots) if n not in denied):
        # "DKA, no coma", "asthma w/o status asthmaticus": what the chart says is
        # absent is no word a code must have (the codes "without" it, and those that
        # do not mention it, both fit); the ranking reads it (search._complications).
        slots = [
            replace(s, optional=True, denied=True) if n in denied else s
            for n, s in enumerate(slots)
        ]
    return ParsedQuery(typed=tokens, slots=slots)


# Typed words that say the next word(s) are absent ("w/o psychosis", "no coma").
DENIES = frozenset({"without", "w/o", "wo", "no", "denies", "neg"})


def _denied_slots(slots: list[Slot]) -> set[int]:
    """Positions of the slots of a word of DENIES and of the (up to two) one-word
    slots after it, up to a "with"."""
    out: set[int] = set()
    for n, slot in enumerate(slots):
        if slot.typed != (slot.typed[0],) or slot.typed[0] not in DENIES:
            continue
        out.add(n)
        for m in range(n + 1, min(n + 3, len(slots))):
            after = slots[m].typed
            if len(after) != 1 or after[0] in ("with", "w", "w/") or after[0] in DENIES:
                break
            out.add(m)
    return out


# Chart words that say where or when, not what: the emergency department, a visit, a
# follow-up. Alone (or only with each other) they are searched as typed.
CONTEXT_WORDS = frozenset(
    {"ed", "er", "visit", "clinic", "office", "f/u", "fu", "followup", "seen"}
)


# Words of nearly every ICD-10-PCS title (the approach, the side): a synonym's meaning
# is searched without them when it has others, and they only rank its codes
# ("colonoscopy" = inspection of lower intestinal tract, via natural or artificial
# opening endoscopic: the index reads the short lists of the first four words).
COMMON_WORDS = frozenset(
    {
        "approach",
        "artificial",
        "device",
        "endoscopic",
        "into",
        "left",
        "natural",
        "open",
        "opening",
        "percutaneous",
        "right",
        "via",
    }
)


def _searched(
    alternative: tuple[tuple[str, str], ...],
) -> tuple[tuple[str, str], ...]:
    rare = tuple(t for t in alternative if t[0] not in COMMON_WORDS)
    return rare or alternative


def _without_redundant(
    alternatives: list[tuple[tuple[str, str], ...]],
) -> list[tuple[tuple[str, str], ...]]:
    """Leave out an alternative that holds all the words of another ("open approach"
    beside "open"): it matches nothing more, and its extra words ("approach": every
    PCS code) would make the index read long posting lists for nothing."""
    sets = [frozenset(a) for a in alternatives]
    return [
        a
        for n, a in enumerate(alternatives)
        if not any(m != n and sets[m] < sets[n] for m in range(len(sets)))
        and sets[n] not in sets[:n]
    ]


def _expanded(phrase: str, tables: list[dict]) -> list[tuple[tuple[str, str], ...]]:
    """The alternatives a synonym's meaning stands for, its own words read through the
    synonym list once more ("lap chole" -> "laparoscopic cholecystectomy" ->
    percutaneous endoscopic resection of gallbladder); at most 8."""
    tokens = [t for t in typed_words(phrase) if t not in STOP_WORDS]
    combos: list[tuple[tuple[str, str], ...]] = [()]
    i = 0
    while i < len(tokens):
        options: list[tuple[tuple[str, str], ...]] = []
        size = 1
        for n in range(min(MAX_PHRASE, len(tokens) - i), 0, -1):
            key = tuple(tokens[i : i + n])
            entries = [t[key] for t in tables if key in t]
            if entries:
                size = n
                options = [_words_of(" ".join(key), PREFIX)] + [
                    _words_of(m, PREFIX) for e in entries for m in e.means if m
                ]
                break
        if not options:
            options = [_words_of(tokens[i], PREFIX)]
        i += size
        combos = [c + o for c in combos for o in dict.fromkeys(options)][:8]
    return combos


def slots_tsquery(slots: list[Slot]) -> tuple[str, list[str]]:
    """SQL of a tsquery matching text that has, for every slot, all the words of one
    of its alternatives; and its parameters. Lexemes hold no quote (WORD_SQL)."""
    parts: list[str] = []
    params: list[str] = []
    for slot in slots:
        options = []
        for alternative in slot.alternatives:
            terms = []
            for word, mode in alternative:
                terms.append(TERM_SQL[mode])
                params += [f"{word}:*", f"{word}:*"] if mode == PREFIX else [word]
            options.append("(" + " && ".join(terms) + ")")
        parts.append("(" + " || ".join(options) + ")")
    return " && ".join(parts), params


def normalized_query(query: str) -> str:
    """The key a query is counted under (models.AcceptedSuggestion): its tokens,
    lower case, single spaces ("Heart  Attack" and "heart attack" are one)."""
    return " ".join(typed_words(query))[:200]
