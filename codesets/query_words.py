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

WORD = re.compile(r"[a-z0-9]+")
MAX_WORDS = 8

# abbreviation -> the words of the code sets it stands for (no stop words: to_tsquery
# drops them with a notice; a test checks). bench/check_abbreviations.py searches each
# one on the full FY2026 code sets and fails when one finds nothing.
ABBREVIATIONS: dict[str, str] = {
    "aaa": "abdominal aortic aneurysm",
    "adhd": "attention deficit hyperactivity",
    "afib": "atrial fibrillation",
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
