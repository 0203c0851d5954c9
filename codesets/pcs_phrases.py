"""Op-note and order shorthand for ICD-10-PCS (THA, ORIF, PCI, LHC, EGD, NSVD ...),
read as the Index words a coder would look up and the words that then choose the
device and qualifier in the table (codesets/pcs_lookup.py).

Each entry: the abbreviation or eponym (one typed word) -> (Index words, refining
words, what it stands for: the Index entry or the table). The Index words name the
root operation and body part as the Index files them ("Replacement > Joint > Hip >
Right 0SR9"); the refining words are read in the labels of the remaining characters
("drug eluting" -> "Intraluminal Device, Drug-eluting"). The typed words around it
(sides, sites, numbers) are read too: "R"/"rt" mean right, "x2"/"2" mean two, "RCA"
a coronary artery, "72 hours" of ventilation the 24-96 hours duration.
"""

from __future__ import annotations

import re

from codesets.pcs_lookup import _approach_of

# abbreviation -> (Index words, refining words, source: Index entry or table)
ABBREVIATIONS: dict[str, tuple[str, str, str]] = {
    # Joints (Replacement 0SR lower joints, 0RR upper joints)
    "tha": (
        "replacement hip joint",
        "synthetic substitute",
        "Replacement > Joint > Hip 0SR9/0SRB",
    ),
    "thr": (
        "replacement hip joint",
        "synthetic substitute",
        "Replacement > Joint > Hip 0SR9/0SRB",
    ),
    "tka": (
        "replacement knee joint",
        "synthetic substitute",
        "Replacement > Joint > Knee 0SRC/0SRD",
    ),
    "tkr": (
        "replacement knee joint",
        "synthetic substitute",
        "Replacement > Joint > Knee 0SRC/0SRD",
    ),
    "tsa": (
        "replacement shoulder joint",
        "synthetic substitute",
        "Replacement > Joint > Shoulder 0RRJ/0RRK",
    ),
    "rtsa": (
        "replacement shoulder joint",
        "reverse ball socket",
        "table 0RR: Synthetic Substitute, Reverse Ball and Socket",
    ),
    "hemiarthroplasty": (
        "replacement hip femoral surface",
        "synthetic substitute",
        "Hemiarthroplasty: see Replacement; Replacement > Joint > Hip > Femoral Surface 0SRR/0SRS",
    ),
    "orif": (
        "reposition open",
        "internal fixation device",
        "Reduction, fracture: see Reposition; table 0QS/0PS device Internal Fixation Device",
    ),
    "crpp": (
        "reposition percutaneous",
        "internal fixation device",
        "Reposition, table 0PS/0QS, Percutaneous, Internal Fixation Device",
    ),
    # Heart and vessels
    "cabg": (
        "bypass coronary artery open",
        "",
        "Coronary artery bypass graft (CABG): see Bypass, Heart and Great Vessels 021",
    ),
    "pci": (
        "dilation coronary artery percutaneous",
        "",
        "Percutaneous coronary intervention: see Dilation, Heart and Great Vessels 027",
    ),
    "ptca": (
        "dilation coronary artery percutaneous",
        "",
        "PTCA: see Dilation, Heart and Great Vessels 027",
    ),
    "des": (
        "dilation coronary artery percutaneous",
        "intraluminal device drug eluting",
        "table 027: Intraluminal Device, Drug-eluting",
    ),
    "bms": (
        "dilation coronary artery percutaneous",
        "intraluminal device",
        "table 027: Intraluminal Device",
    ),
    "lhc": (
        "measurement cardiac percutaneous",
        "sampling pressure left heart",
        "Catheterization, heart: see Measurement, Cardiac 4A02; 4A023N7",
    ),
    "rhc": (
        "measurement cardiac percutaneous",
        "sampling pressure right heart",
        "Catheterization, heart: see Measurement, Cardiac 4A02; 4A023N6",
    ),
    "dccv": ("cardioversion", "", "Cardioversion 5A2204Z"),
    "cvc": (
        "insertion superior vena cava percutaneous",
        "infusion device",
        "Central venous catheter: Insertion of Infusion Device, Superior Vena Cava 02HV33Z",
    ),
    "picc": (
        "insertion superior vena cava percutaneous",
        "infusion device",
        "Peripherally inserted central catheter: 02HV33Z",
    ),
    "port": (
        "insertion subcutaneous tissue chest",
        "vascular access device totally implantable",
        "Port-a-cath: Insertion of Vascular Access Device, Totally Implantable, Subcutaneous Tissue and Fascia, Chest 0JH6",
    ),
    "ecmo": (
        "extracorporeal oxygenation",
        "",
        "ECMO: see Performance, Circulatory 5A15",
    ),
    # Digestive
    "egd": (
        "esophagogastroduodenoscopy",
        "",
        "Esophagogastroduodenoscopy (EGD) 0DJ08ZZ",
    ),
    "ercp": (
        "extirpation common bile duct endoscopic",
        "",
        "ERCP with stone removal: Extirpation, Common Bile Duct 0FC9",
    ),
    "peg": (
        "insertion stomach percutaneous",
        "feeding device",
        "PEG (percutaneous endoscopic gastrostomy) 0DH63UZ",
    ),
    "appy": ("appendectomy", "", "Appendectomy: see Resection, Appendix 0DTJ"),
    "chole": (
        "cholecystectomy",
        "",
        "Cholecystectomy: see Resection, Gallbladder 0FT4",
    ),
    "sleeve": (
        "excision stomach",
        "vertical",
        "Sleeve gastrectomy: Excision, Stomach, qualifier Vertical 0DB6..3",
    ),
    # Nervous system
    "lp": (
        "drainage spinal canal percutaneous",
        "",
        "Lumbar puncture: see Drainage, Spinal Canal 009U",
    ),
    "evd": (
        "drainage cerebral ventricle percutaneous",
        "drainage device",
        "Ventriculostomy, external drainage: Drainage, Cerebral Ventricle 0096",
    ),
    "ctr": (
        "release median nerve",
        "",
        "Carpal tunnel release: Release, Median Nerve 01N5",
    ),
    "tlif": (
        "fusion lumbar vertebral",
        "interbody fusion device posterior approach anterior column",
        "Fusion, Lumbar Vertebral 0SG0, Interbody Fusion Device, Posterior Approach, Anterior Column",
    ),
    "plif": (
        "fusion lumbar vertebral",
        "interbody fusion device posterior approach anterior column",
        "Fusion, Lumbar Vertebral 0SG0, Interbody Fusion Device, Posterior Approach, Anterior Column",
    ),
    "alif": (
        "fusion lumbar vertebral",
        "interbody fusion device anterior approach anterior column",
        "Fusion, Lumbar Vertebral 0SG0, Interbody Fusion Device, Anterior Approach, Anterior Column",
    ),
    "acdf": (
        "fusion cervical vertebral",
        "interbody fusion device anterior approach anterior column",
        "Fusion, Cervical Vertebral 0RG1, Interbody Fusion Device, Anterior Approach, Anterior Column",
    ),
    # Obstetrics and gynecology
    "nsvd": ("delivery products conception", "", "Delivery, manually assisted 10E0XZZ"),
    "svd": ("delivery products conception", "", "Delivery, manually assisted 10E0XZZ"),
    "ltcs": (
        "extraction products conception",
        "low",
        "Cesarean section: see Extraction, Products of Conception 10D0; Low 10D00Z1",
    ),
    "tlh": (
        "resection uterus laparoscopic",
        "",
        "Hysterectomy, total: see Resection, Uterus 0UT9 (and Cervix 0UTC)",
    ),
    "tah": (
        "resection uterus open",
        "",
        "Hysterectomy, total: see Resection, Uterus 0UT9 (and Cervix 0UTC)",
    ),
    "lavh": (
        "resection uterus",
        "assistance",
        "Resection, Uterus 0UT9F: Via Natural or Artificial Opening With Percutaneous Endoscopic Assistance",
    ),
    "bso": (
        "resection ovary bilateral",
        "",
        "Salpingo-oophorectomy: see Resection; Ovaries, Bilateral 0UT2",
    ),
    # Urinary and male
    "turp": (
        "resection prostate transurethral",
        "",
        "TURP: see Resection, Prostate 0VT0",
    ),
    "turbt": (
        "excision bladder transurethral",
        "",
        "Transurethral resection of bladder tumor: Excision, Bladder 0TBB",
    ),
    "cysto": ("cystoscopy", "", "Cystoscopy 0TJB8ZZ"),
    "crrt": (
        "hemofiltration continuous",
        "",
        "Hemofiltration, continuous: Performance, Urinary 5A1D90Z",
    ),
    "cvvh": (
        "hemofiltration continuous",
        "",
        "Hemofiltration, continuous: Performance, Urinary 5A1D90Z",
    ),
    "hd": ("hemodialysis", "", "Hemodialysis: see Performance, Urinary 5A1D"),
    # Respiratory, blood, skin, eye
    "trach": (
        "bypass trachea",
        "tracheostomy device cutaneous",
        "Tracheostomy: see Bypass, Respiratory System 0B1; Trachea 0B11..F4",
    ),
    "bal": (
        "drainage lung endoscopic",
        "diagnostic",
        "Bronchoalveolar lavage: see Drainage, Lung 0B9 with qualifier Diagnostic",
    ),
    "prbc": (
        "transfusion red blood cells",
        "nonautologous peripheral vein",
        "Transfusion: see Administration, Circulatory 302; 30233N1",
    ),
    "prbcs": (
        "transfusion red blood cells",
        "nonautologous peripheral vein",
        "Transfusion: see Administration, Circulatory 302; 30233N1",
    ),
    "iandd": (
        "drainage subcutaneous tissue",
        "",
        "Incision, abscess: see Drainage; Drainage > Subcutaneous Tissue and Fascia 0J9",
    ),
    "phaco": (
        "phacoemulsification lens implant percutaneous",
        "synthetic substitute",
        "Phacoemulsification, lens > With IOL implant: see Replacement, Eye 08R; "
        "Lens, Right/Left 08RJ3JZ/08RK3JZ",
    ),
    "iol": (
        "phacoemulsification lens implant percutaneous",
        "synthetic substitute",
        "Phacoemulsification, lens > With IOL implant: see Replacement, Eye 08R; "
        "Lens, Right/Left 08RJ3JZ/08RK3JZ",
    ),
    "ihr": (
        "repair inguinal region",
        "synthetic substitute",
        "Herniorrhaphy, inguinal: see Repair / Supplement, Inguinal Region 0YQ5/0YU5",
    ),
    "bka": (
        "detachment lower leg",
        "",
        "Amputation, below knee: see Detachment, Lower Leg 0Y6H/0Y6J",
    ),
    "aka": (
        "detachment upper leg",
        "",
        "Amputation, above knee: see Detachment, Upper Leg 0Y6C/0Y6D",
    ),
    "dandc": (
        "extraction endometrium",
        "",
        "Dilation and curettage: see Extraction, Endometrium 0UDB",
    ),
    # More shorthand of op notes and orders
    "exlap": (
        "inspection peritoneal cavity open",
        "",
        "Laparotomy, exploratory: see Inspection, Peritoneal Cavity 0WJG0ZZ",
    ),
    "tee": (
        "ultrasonography heart",
        "right left none transesophageal",
        "Echocardiogram: see Ultrasonography, Heart B24; Heart, Right and Left B246ZZ4",
    ),
    "tte": (
        "ultrasonography heart",
        "right left none",
        "Echocardiogram: see Ultrasonography, Heart B24; Heart, Right and Left B246ZZZ",
    ),
    "echo": (
        "ultrasonography heart",
        "right left none",
        "Echocardiogram: see Ultrasonography, Heart B24; Heart, Right and Left B246ZZZ",
    ),
    "ngt": (
        "insertion stomach",
        "feeding device natural",
        "Insertion, Stomach, Feeding Device, Via Natural or Artificial Opening 0DH67UZ",
    ),
    "ett": (
        "insertion trachea",
        "endotracheal airway natural",
        "Intubation, airway: see Insertion of device in Trachea 0BH1; 0BH17EZ",
    ),
    "foley": (
        "drainage bladder",
        "drainage device natural",
        "Drainage, Bladder with Drainage Device, Via Natural or Artificial Opening 0T9B70Z",
    ),
    "vbac": ("delivery products conception", "", "Delivery, manually assisted 10E0XZZ"),
    "csection": (
        "extraction products conception open",
        "low",
        "Cesarean section: see Extraction, Products of Conception 10D0; Low 10D00Z1",
    ),
    "rso": (
        "resection ovary right",
        "",
        "Salpingo-oophorectomy: see Resection; Ovary, Right 0UT0 (Fallopian Tube, Right 0UT5)",
    ),
    "lso": (
        "resection ovary left",
        "",
        "Salpingo-oophorectomy: see Resection; Ovary, Left 0UT1 (Fallopian Tube, Left 0UT6)",
    ),
    "cea": (
        "extirpation carotid artery open",
        "",
        "Endarterectomy, carotid: see Extirpation, Upper Arteries 03C (Internal/Common Carotid)",
    ),
    "evar": (
        "restriction abdominal aorta percutaneous",
        "intraluminal device",
        "Endovascular aneurysm repair: Restriction, Abdominal Aorta, Intraluminal Device 04V0",
    ),
    "tavr": (
        "replacement aortic valve percutaneous",
        "zooplastic tissue",
        "Transcatheter aortic valve replacement: Replacement, Aortic Valve 02RF38Z",
    ),
    "tavi": (
        "replacement aortic valve percutaneous",
        "zooplastic tissue",
        "Transcatheter aortic valve replacement: Replacement, Aortic Valve 02RF38Z",
    ),
    "avr": ("replacement aortic valve open", "", "Replacement, Valve, Aortic 02RF"),
    "mvr": ("replacement mitral valve open", "", "Replacement, Valve, Mitral 02RG"),
    "ivcf": (
        "insertion inferior vena cava percutaneous",
        "intraluminal device",
        "Filter, vena cava: Insertion of Intraluminal Device, Inferior Vena Cava 06H03DZ",
    ),
    "aicd": (
        "insertion device subcutaneous tissue chest",
        "defibrillator generator open",
        "Defibrillator generator: Insertion of device in Subcutaneous Tissue and Fascia, Chest 0JH608Z",
    ),
    "ppm": (
        "insertion device subcutaneous tissue chest",
        "pacemaker dual chamber open",
        "Pacemaker, dual chamber: Insertion of device in Subcutaneous Tissue and Fascia, Chest 0JH606Z",
    ),
    "ilr": (
        "insertion device subcutaneous tissue chest",
        "monitoring device percutaneous",
        "Loop recorder, implantable: Insertion of Monitoring Device, Subcutaneous Tissue and Fascia, Chest 0JH632Z",
    ),
    "tips": (
        "bypass portal vein percutaneous",
        "synthetic substitute lower vein",
        "TIPS: see Bypass, Portal Vein 0618, Percutaneous, to Lower Vein (06183JY in FY2026)",
    ),
    "vp": (
        "bypass cerebral ventricle open",
        "synthetic substitute peritoneal cavity",
        "Ventriculoperitoneal shunt: see Bypass, Cerebral Ventricle 0016 to Peritoneal Cavity",
    ),
    "ekg": (
        "measurement cardiac external",
        "electrical activity",
        "Electrocardiogram: Measurement, Cardiac, Electrical Activity 4A02X4Z",
    ),
    "ecg": (
        "measurement cardiac external",
        "electrical activity",
        "Electrocardiogram: Measurement, Cardiac, Electrical Activity 4A02X4Z",
    ),
    "eeg": (
        "measurement central nervous external",
        "electrical activity",
        "Electroencephalogram: Measurement, Central Nervous, Electrical Activity 4A00X4Z",
    ),
    "cxr": (
        "plain radiography chest",
        "",
        "Radiography, chest: Plain Radiography, Chest BW03",
    ),
    "tpn": (
        "introduction central vein percutaneous",
        "nutritional substance",
        "Parenteral nutrition: Introduction of Nutritional Substance, Central Vein 3E0436Z",
    ),
    "pd": (
        "irrigation peritoneal cavity",
        "dialysate",
        "Peritoneal dialysis: Irrigation, Peritoneal Cavity, Dialysate 3E1M39Z",
    ),
    "lar": (
        "resection rectum",
        "",
        "Low anterior resection: see Resection, Rectum 0DTP",
    ),
    "nissen": (
        "restriction esophagogastric junction",
        "",
        "Fundoplication, gastroesophageal: see Restriction, Esophagogastric Junction 0DV4",
    ),
    "rygb": (
        "bypass stomach",
        "jejunum",
        "Gastric bypass (Roux-en-Y): see Bypass, Stomach 0D16 to Jejunum",
    ),
    "pcnl": (
        "extirpation kidney pelvis percutaneous",
        "",
        "Nephrolithotomy, percutaneous: see Extirpation, Kidney Pelvis 0TC3/0TC4",
    ),
    "eswl": (
        "fragmentation kidney pelvis external",
        "",
        "Lithotripsy, extracorporeal shock wave: see Fragmentation, Kidney Pelvis 0TF3/0TF4",
    ),
    "stsg": (
        "replacement skin",
        "autologous tissue substitute partial thickness",
        "Skin graft, split thickness: Replacement, Skin, Autologous Tissue Substitute, Partial Thickness 0HR",
    ),
    "ftsg": (
        "replacement skin",
        "autologous tissue substitute full thickness",
        "Skin graft, full thickness: Replacement, Skin, Autologous Tissue Substitute, Full Thickness 0HR",
    ),
    "iabp": (
        "assistance cardiac balloon pump",
        "continuous",
        "Intra-aortic balloon pump: Assistance, Cardiac, Balloon Pump 5A02210",
    ),
    "arthroplasty": (
        "replacement joint",
        "synthetic substitute",
        "Arthroplasty: see Replacement, Joint (0SR lower, 0RR upper)",
    ),
    "bx": ("excision", "diagnostic", "Biopsy: see Excision with qualifier Diagnostic"),
    "vent": (
        "mechanical ventilation",
        "",
        "Mechanical ventilation: see Performance, Respiratory 5A19 (duration: 5A1935Z/5A1945Z/5A1955Z)",
    ),
    "ventilation": (
        "mechanical ventilation",
        "",
        "Mechanical ventilation: see Performance, Respiratory 5A19 (duration: 5A1935Z/5A1945Z/5A1955Z)",
    ),
    "platelets": (
        "transfusion platelets peripheral vein",
        "nonautologous",
        "Transfusion: see Administration, Circulatory 302; Platelets 30233R1",
    ),
    "chesttube": (
        "drainage pleural cavity percutaneous",
        "drainage device",
        "Thoracostomy tube: Drainage, Pleural Cavity with Drainage Device 0W9930Z/0W9B30Z",
    ),
    "bmbx": (
        "extraction bone marrow iliac percutaneous",
        "diagnostic",
        "Biopsy, bone marrow: see Extraction, Bone Marrow 07D; Iliac 07DR3ZX",
    ),
    "arthrocentesis": (
        "drainage joint percutaneous",
        "",
        "Arthrocentesis: see Drainage, Lower Joints 0S9 / Upper Joints 0R9",
    ),
    "fasciotomy": (
        "division subcutaneous tissue fascia",
        "",
        "Fasciotomy: see Division, Subcutaneous Tissue and Fascia 0J8",
    ),
}
# Words that stand for others wherever an abbreviation was read: sides, sites.
WORD_SYNONYMS: dict[str, str] = {
    "r": "right",
    "rt": "right",
    "l": "left",
    "lt": "left",
    "bilat": "bilateral",
    "rca": "one",
    "lad": "one",
    "lcx": "one",
    "svg": "autologous venous tissue",
    "saphenous": "autologous venous tissue",
    "lima": "internal mammary left",
    "rima": "internal mammary right",
    "x1": "one",
    "x2": "two",
    "x3": "three",
    "x4": "four",
    "mesh": "synthetic substitute",
    "stent": "intraluminal device",
    "stents": "intraluminal device",
}
# Abbreviations that leave the body part to the other typed words (looked up in
# the Index with them); the others name it, and the typed words only refine.
OPEN_ENDED = frozenset(
    {
        "orif",
        "crpp",
        "iandd",
        "egd",
        "cysto",
        "hemiarthroplasty",
        "arthroplasty",
        "bx",
        "stsg",
        "ftsg",
        "arthrocentesis",
        "fasciotomy",
    }
)
# Chart words for the Index's body-part words (the Definitions' body-part keys:
# "Thigh: use Upper Leg"), phrases first.
BODY_WORDS: dict[str, str] = {
    "femoral neck": "upper femur",
    "distal radius": "radius",
    "thigh": "upper leg",
    "forearm": "lower arm",
    "ij": "internal jugular vein",
    "central venous catheter": "cvc",
    "central line": "cvc",
    "rotator cuff": "tendon shoulder",
    "triple lumen catheter": "cvc",
    "triple lumen": "cvc",
    "tunneled dialysis catheter": "cvc",
    "dialysis catheter": "cvc",
    "open reduction internal fixation": "orif",
    "hip fracture": "upper femur",
    "chest tube": "chesttube",
    "bone marrow biopsy": "bmbx",
    "bone marrow bx": "bmbx",
    "mechanical ventilation": "ventilation",
    "mech vent": "ventilation",
    "ex lap": "exlap",
    "c section": "csection",
    "ivc filter": "ivcf",
    "loop recorder": "ilr",
    "ng tube": "ngt",
    "ureteral": "ureter",
    "gastric": "stomach",
    "duodenal": "duodenum",
    "esophageal": "esophagus",
    "colonic": "colon",
    "bronchial": "bronchus",
    "renal": "kidney",
    "hepatic": "liver",
    "laceration": "skin",
}
# Scopes ("EGD", "colonoscopy"): the approach, Via Natural or Artificial Opening
# Endoscopic, and the body part looked at when no other is typed. With an operation
# word ("EGD with biopsy"), the operation is that word's (SCOPE_OPERATIONS), not
# the Inspection the scope alone is (Index: "EGD (esophagogastroduodenoscopy)
# 0DJ08ZZ", "Colonoscopy 0DJD8ZZ").
SCOPES: dict[str, str] = {
    "egd": "stomach",
    "esophagogastroduodenoscopy": "stomach",
    "colonoscopy": "colon",
    "sigmoidoscopy": "sigmoid colon",
    "bronchoscopy": "bronchus",
    "bronch": "bronchus",
    "cystoscopy": "bladder",
    "cysto": "bladder",
    "hysteroscopy": "uterus",
    "ureteroscopy": "ureter",
}
# Operation words said with a scope -> (the root operation's Index word, refining
# words), from the Index: "Biopsy: see Excision with qualifier Diagnostic",
# "Polypectomy, gastrointestinal: see Excision", "Stent placement: see Dilation
# (intraluminal device)", "Lithotripsy: see Fragmentation", "Removal of foreign
# body / stone: see Extirpation", "Cauterization: see Destruction".
SCOPE_OPERATIONS: dict[str, tuple[str, str]] = {
    "biopsy": ("excision", "diagnostic"),
    "biopsies": ("excision", "diagnostic"),
    "bx": ("excision", "diagnostic"),
    "polypectomy": ("excision", ""),
    "stent": ("dilation", "intraluminal device"),
    "stents": ("dilation", "intraluminal device"),
    "dilation": ("dilation", ""),
    "dilatation": ("dilation", ""),
    "lithotripsy": ("fragmentation", ""),
    "stone": ("extirpation", ""),
    "stones": ("extirpation", ""),
    "cauterization": ("destruction", ""),
    "ablation": ("destruction", ""),
}
# Words that say a scope only looked (no operation through it).
LOOKING_ONLY = frozenset({"diagnostic", "screening", "surveillance", "inspection"})
SIDES = frozenset({"right", "left", "bilateral"})
# Words of the note that name neither operation nor body part.
NOISE = frozenset(
    {
        "abscess",
        "fracture",
        "lesion",
        "placement",
        "guided",
        "snare",
        "us",
        "graft",
        "grafts",
        "unit",
        "units",
        "transfuse",
        "with",
        "of",
        "to",
        "and",
        "the",
        "a",
        "eye",
    }
)
BIOPSY_WORDS = frozenset({"biopsy", "biopsies", "bx"})
SIDE_WORDS = {
    "r": "right",
    "rt": "right",
    "l": "left",
    "lt": "left",
    "bilat": "bilateral",
}
CORONARY = frozenset({"pci", "ptca", "des", "bms", "cabg"})
COUNTS = frozenset({"one", "two", "three", "four"})
NUMBERS = {"1": "one", "2": "two", "3": "three", "4": "four"}
JOINED = re.compile(r"\b([a-z])\s*&\s*([a-z])\b")
WORD = re.compile(r"[a-z0-9]+")


# Chart shorthand for with / without ("EGD w/ bx", "w/o contrast").
WITH = re.compile(r"\bw/o\b|\bw/(?=\s|\w|$)")


def _spaced_words(query: str) -> str:
    """The query's words, lower case, each between spaces ("d&c" -> "dandc", "w/" ->
    "with")."""
    text = WITH.sub(
        lambda m: " without " if m.group(0) == "w/o" else " with ", query.lower()
    )
    return " " + " ".join(WORD.findall(JOINED.sub(r"\1and\2", text))) + " "


DURATION = re.compile(r" (\d+) ?(hours|hour|hrs|hr|h|days|day|d) ")


def _durations(text: str) -> str:
    """A duration of ventilation in the words of the table's labels: "48 hrs" ->
    "24 96 consecutive hours" (24-96 Consecutive Hours), "5 days" -> "greater 96
    consecutive hours", "12 hours" -> "less 24 consecutive hours"."""

    def words(match: re.Match[str]) -> str:
        hours = int(match.group(1)) * (24 if match.group(2).startswith("d") else 1)
        if hours < 24:
            return " less 24 consecutive hours "
        if hours <= 96:
            return " 24 96 consecutive hours "
        return " greater 96 consecutive hours "

    return DURATION.sub(words, text)


def expand(query: str) -> tuple[str, tuple[str, ...]] | None:
    """The Index words and refining words of a query that holds an abbreviation of
    ABBREVIATIONS ("R THA" -> "replacement hip joint right", ("synthetic",
    "substitute")), or None when it holds none."""
    text = _spaced_words(query)
    for phrase, meant in BODY_WORDS.items():
        text = text.replace(f" {phrase} ", f" {meant} ")
    words = _durations(text).split()
    scoped = _scope_operation(words)
    if scoped is not None:
        return scoped
    scope_only = [w for w in words if w not in LOOKING_ONLY]
    if len(scope_only) < len(words) and any(w in SCOPES for w in scope_only):
        # A scope that only looked ("diagnostic colonoscopy", "screening EGD"): the
        # scope as the Index files it ("Colonoscopy: see Inspection, Lower
        # Intestinal Tract"), not an excision with the qualifier Diagnostic.
        return expand(" ".join(scope_only)) or (" ".join(scope_only), ())
    if not any(w in ABBREVIATIONS for w in words):
        return None
    index: list[str] = []
    refine: list[str] = []
    open_ended = any(w in OPEN_ENDED for w in words)
    for i, word in enumerate(words):
        if word in ABBREVIATIONS:
            looked, chosen, _source = ABBREVIATIONS[word]
            index += looked.split()
            refine += chosen.split()
        elif word in WORD_SYNONYMS:
            refine += WORD_SYNONYMS[word].split()
        elif word in NUMBERS and i + 1 < len(words) and words[i + 1] != "hours":
            refine.append(NUMBERS[word])
        elif word in NOISE:
            continue
        elif open_ended or _approach_of([word])[0]:
            # An approach word ("lap") is read by the lookup from the Index words.
            index.append(word)
        else:
            refine.append(word)
    if any(w in CORONARY for w in words) and not any(w in COUNTS for w in refine):
        # No count of arteries typed: one ("PCI of the LAD" -> One Artery).
        refine.append("one")
    if "mesh" in words:
        # A hernia repair with mesh is Supplement with Synthetic Substitute (Index:
        # "Herniorrhaphy, with synthetic substitute: see Supplement").
        index = ["supplement" if w == "repair" else w for w in index]
    return " ".join(dict.fromkeys(index)), tuple(dict.fromkeys(refine))


def _scope_operation(words: list[str]) -> tuple[str, tuple[str, ...]] | None:
    """A scope with an operation word ("EGD with biopsy of duodenum"): the
    operation, the typed body part (else the scope's), endoscopic; else None."""
    scope = next((w for w in words if w in SCOPES), None)
    operation = next((w for w in words if w in SCOPE_OPERATIONS), None)
    if scope is None or operation is None:
        return None
    looked, chosen = SCOPE_OPERATIONS[operation]
    refine = chosen.split()
    body: list[str] = []
    for word in words:
        if word in SCOPES or word in SCOPE_OPERATIONS or word in NOISE:
            continue
        if word in LOOKING_ONLY:  # "diagnostic": the operation says what was done
            continue
        if word in WORD_SYNONYMS:
            refine += WORD_SYNONYMS[word].split()
        elif word in SIDES:
            refine.append(word)
        elif word in ABBREVIATIONS or _approach_of([word])[0]:
            continue
        else:
            body.append(word)
    index = [looked, *(body or SCOPES[scope].split()), "endoscopic"]
    return " ".join(dict.fromkeys(index)), tuple(dict.fromkeys(refine))


def normalize(query: str) -> str:
    """The query's words as the Index files them, for a query without shorthand:
    body-part words of BODY_WORDS, sides spelled out, words of NOISE dropped
    ("US guided paracentesis" -> "paracentesis", "R forearm" -> "right lower arm")."""
    text = _spaced_words(query)
    for phrase, meant in BODY_WORDS.items():
        text = text.replace(f" {phrase} ", f" {meant} ")
    words = [SIDE_WORDS.get(w, w) for w in _durations(text).split() if w not in NOISE]
    if any(w in BIOPSY_WORDS for w in words):
        # "Biopsy: see Excision with qualifier Diagnostic" (the Index).
        words = [*("excision" if w in BIOPSY_WORDS else w for w in words), "diagnostic"]
    return " ".join(words) or query
