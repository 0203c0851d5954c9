"""ICD-10-PCS tables XML (``icd10pcs_tables_YYYY.xml``, root ``<ICD10PCS.tabular>``).

Layout (CMS)::

    <ICD10PCS.tabular>
      <version>2026</version>
      <title>2026 ICD-10-PCS Tables</title>
      <pcsTable>
        <axis pos="1" values="1"><title>Section</title><label code="0">Medical and Surgical</label></axis>
        <axis pos="2" values="1"><title>Body System</title><label code="0">Central Nervous ...</label></axis>
        <axis pos="3" values="1"><title>Operation</title><label code="1">Bypass</label>
          <definition>Altering the route of passage of the contents of a tubular body part</definition></axis>
        <pcsRow codes="99">
          <axis pos="4" values="1"><title>Body Part</title><label code="6">Cerebral Ventricle</label></axis>
          <axis pos="5" values="3"><title>Approach</title><label code="0">Open</label>...</axis>
          <axis pos="6" ...>  <axis pos="7" ...>
        </pcsRow>
        ...
      </pcsTable>
    </ICD10PCS.tabular>

Each 7-character code is one choice per axis: the three table characters, then
one label of each of the row's axes 4-7. ``codes="N"`` states how many codes a
row yields (the product of its label counts) and is checked, as is ``values``.

Result: one ``ParsedPcsTable`` per table and, in file order, a ``ParsedCode``
for every node so that each code has a path:

* section, 1 character, kind ``chapter``   ("0"   Medical and Surgical)
* body system, 2 characters, kind ``block`` ("00"  Central Nervous System and Cranial Nerves)
* table, 3 characters, kind ``category``    ("001" Bypass, the operation label)
* code, 7 characters, kind ``code``, billable, parent the table.

Headers are not billable. ``chapter`` holds the section character and ``block``
the 2-character body system, like the ICD-10-CM chapter and block.

The XML carries no code titles. They are built from the axis labels with the
rules CMS uses for the official long titles (``build_title``), worked out by
comparing the tables with the FY2024 codes file: every code present both in the
FY2025 (or FY2020) tables and in the FY2024 codes file gets its official title
back; against the FY2023 tables the only differences are labels that CMS
reworded afterwards. The short title is the long title (the abbreviated titles
exist only in the order file).

Parsing streams through defusedxml's expat parser: no DTD entities, no external
references; a malformed or truncated file raises ``ImportFormatError`` with the
line and the element.
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from xml.parsers.expat import XMLParserType

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from .base import ImportFormatError, ParsedCode, ParsedPcsTable, ParseResult, Progress

ROOT_TAG = "ICD10PCS.tabular"
PCS_ALPHABET = frozenset("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")
CHUNK = 1 << 16

# ---------------------------------------------------------------------------
# Titles
#
# CMS builds a long title from the axis labels, in a different phrase for each
# section and operation ("Bypass Cerebral Ventricle to Nasopharynx with
# Autologous Tissue Substitute, Open Approach"; "Plain Radiography of Left Knee
# using Low Osmolar Contrast"). Labels are inverted ("Lower Leg, Left" -> "Left
# Lower Leg"), "No Device"/"No Qualifier"/"None" are left out, and a few labels
# and tables have wordings of their own. The tables below hold those.

SIDES = ("Left", "Right", "Bilateral")
NONE_LABELS = frozenset(
    {"No Device", "No Qualifier", "None", "No Substance", "No Equipment", "No Method"}
)

# Labels "A, B" normally read "B A"; these stay as written (a trailing side still
# moves to the front: "Hip Joint, Acetabular Surface, Left" -> "Left Hip Joint, Acetabular Surface").
AS_IS_PREFIXES = (
    "Coronary Artery, One",
    "Coronary Artery, Two",
    "Coronary Artery, Three",
    "Coronary Artery, Four",
    "Thoracic Aorta, ",
    "Products of Conception",
    "Stomach, Pylorus",
    "Hip Joint, ",
    "Knee Joint, ",
    "Hepatobiliary System, All",
    "Musculoskeletal System, ",
    "Posterior Approach, ",
    "Anterior Approach, ",
    "Amniotic Fluid, ",
    "First Trimester",
    "Second Trimester",
    "Third Trimester",
)
# "X, Y and Z" is a list and stays as written, unless "Y and Z" qualifies X.
AND_QUALIFIERS = frozenset({"Right and Left", "Head and Neck", "Abdomen and Pelvis"})

DEVICE_PHRASES = {
    "Biologic with Synthetic Substitute, Autoregulated Electrohydraulic": (
        "Biologic and Synthetic Substitute, Autoregulated Electrohydraulic"
    ),
    "Cardiac Lead, Defibrillator": "Defibrillator Lead",
    "Cardiac Lead, Pacemaker": "Pacemaker Lead",
    "Hearing Device, Multiple Channel Cochlear Prosthesis": "Multiple Channel Cochlear Prosthesis",
    "Hearing Device, Single Channel Cochlear Prosthesis": "Single Channel Cochlear Prosthesis",
    "Infusion Device, Pump": "Infusion Pump",
    "Intraluminal Device, Airway": "Airway",
    "Intraluminal Device, Branched or Fenestrated, One or Two Arteries": (
        "Branched or Fenestrated Intraluminal Device, One or Two Arteries"
    ),
    "Intraluminal Device, Branched or Fenestrated, Three or More Arteries": (
        "Branched or Fenestrated Intraluminal Device, Three or More Arteries"
    ),
    "Intraluminal Device, Endobronchial Valve": "Endobronchial Valve",
    "Intraluminal Device, Endotracheal Airway": "Endotracheal Airway",
    "Intraluminal Device, Flow Diverter": "Intraluminal Device, Flow Diverter",
    "Intraluminal Device, Pessary": "Pessary",
    "Pacemaker, Dual Chamber": "Pacemaker, Dual Chamber",
    "Pacemaker, Single Chamber": "Pacemaker, Single Chamber",
    "Pacemaker, Single Chamber Rate Responsive": "Pacemaker, Single Chamber Rate Responsive",
    "Radioactive Element, Cesium-131 Collagen Implant": "Radioactive Element, Cesium-131 Collagen Implant",
    "Spinal Stabilization Device, Vertebral Body Tether": "Spinal Stabilization Device, Vertebral Body Tether",
    "Synthetic Substitute, Intraocular Telescope": "Intraocular Telescope",
    "Synthetic Substitute, Pneumatic": "Synthetic Substitute, Pneumatic",
    "Synthetic Substitute, Reverse Ball and Socket": "Reverse Ball and Socket Synthetic Substitute",
    "Synthetic Substitute, Unicondylar Medial": "Medial Unicondylar Synthetic Substitute",
    "Synthetic Substitute, Unicondylar Lateral": "Lateral Unicondylar Synthetic Substitute",
}
QUALIFIER_PHRASES = {
    "Pulmonary Vein, Confluence": "Pulmonary Vein Confluence",
    "Amniotic Fluid, Therapeutic": "Amniotic Fluid, Therapeutic",
}
# "Intraluminal Device, Drug-eluting, Three" -> "Three Drug-eluting Intraluminal Devices"
_MULTIPLE_DEVICES = re.compile(r"^(.+?), (?:(.+), )?(Two|Three|Four or More)$")

# Section 0 (Medical and Surgical) and 1 (Obstetrics)
OF_OPERATIONS = frozenset(
    {
        "Alteration", "Destruction", "Dilation", "Division", "Drainage", "Excision", "Extirpation",
        "Extraction", "Fragmentation", "Fusion", "Inspection", "Occlusion", "Reattachment", "Removal",
        "Replacement", "Resection", "Restriction", "Revision", "Insertion", "Transplantation",
        "Creation", "Detachment", "Abortion", "Delivery",
    }
)  # fmt: skip
QUALIFIER_AFTER_APPROACH = frozenset({"Diagnostic", "Ultrasonic", "Vertical"})
QUALIFIER_USING = frozenset(
    {
        "Drug-Coated Balloon", "Irreversible Electroporation", "Laser Interstitial Thermal Therapy",
        "Stent Retriever", "Rapid Deployment Technique", "Deep Inferior Epigastric Artery Perforator Flap",
        "Gluteal Artery Perforator Flap", "Latissimus Dorsi Myocutaneous Flap",
        "Superficial Inferior Epigastric Artery Flap", "Transverse Rectus Abdominis Myocutaneous Flap",
    }
)  # fmt: skip
QUALIFIER_OF_BODY_PART = frozenset(
    {"Single", "Multiple", "All", "Bifurcation", "Sesamoid Bone(s) 1st Toe"}
)
QUALIFIER_REPLACES_BODY_PART = frozenset(
    {
        "Left Atrial Appendage", "Prostatic Artery, Left", "Prostatic Artery, Right", "Uterine Artery, Left",
        "Uterine Artery, Right", "Ductus Arteriosus", "Hemorrhoidal Plexus",
    }
)  # fmt: skip
VALVE_ORIGINS = frozenset(
    {"Truncal Valve", "Atrioventricular Valve, Left", "Atrioventricular Valve, Right"}
)
VESSEL_FRAGMENTATION_TABLES = frozenset({"02F", "03F", "04F", "05F", "06F"})

# Section F: equipment named without the word "Equipment"
F_PLAIN_EQUIPMENT = frozenset(
    {"Audiometer", "Computer", "Orthosis", "Physical Agents", "Prosthesis", "Sound Field / Booth",
     "Speech Prosthesis", "Tympanometer"}
)  # fmt: skip

# Section X (New Technology)
X_DEVICE_PHRASES = {
    "Interbody Fusion Device, Custom-Made Anatomically Designed": (
        "Custom-Made Anatomically Designed Interbody Fusion Device"
    ),
    "Intracardiac Pacemaker, Dual-Chamber": "Dual-Chamber Intracardiac Pacemaker",
    "Synthetic Substitute, Talar Prosthesis": "Talar Prosthesis Synthetic Substitute",
    "Plasma, Convalescent (Nonautologous)": "Convalescent Plasma (Nonautologous)",
}
X_DEVICES_AS_IS = frozenset(
    {"Intraluminal Device, Bioprosthetic Valve", "Synthetic Substitute, Medial Meniscus",
     "Synthetic Substitute, Lateral Meniscus", "Synthetic Substitute, Extraluminal Support Device"}
)  # fmt: skip
X_USING_OPERATIONS = frozenset(
    {
        "Bypass",
        "Destruction",
        "Extirpation",
        "Fusion",
        "Inspection",
        "Irrigation",
        "Reposition",
    }
)


def invert(label: str) -> str:
    """A label as it reads in a title: "Lower Leg, Left" -> "Left Lower Leg"."""
    if ", " not in label:
        return label
    parts = label.split(", ")
    last = parts[-1]
    if last not in SIDES and (
        len(parts) > 2
        or (" and " in last and (last not in AND_QUALIFIERS or parts[0] == "Chest"))
    ):
        return label
    if label.startswith(AS_IS_PREFIXES):
        return f"{last} {', '.join(parts[:-1])}" if last in SIDES else label
    if len(parts) > 2:
        return f"{last} {invert(', '.join(parts[:-1]))}"
    return f"{parts[1]} {parts[0]}"


def _device(label: str) -> str:
    if label in DEVICE_PHRASES:
        return DEVICE_PHRASES[label]
    m = _MULTIPLE_DEVICES.match(label)
    if m and m.group(1).endswith("Device"):
        return " ".join(x for x in (m.group(3), m.group(2), m.group(1) + "s") if x)
    return invert(label)


def _qualifier(label: str) -> str:
    return QUALIFIER_PHRASES.get(label) or invert(label)


def _approach(label: str) -> str:
    return label if label.startswith("Via ") else f"{label} Approach"


def _none(label: str) -> str:
    return "" if label in NONE_LABELS else label


def build_title(
    code: str,
    operation: str,
    body_part: str,
    approach: str,
    device: str,
    qualifier: str,
) -> str:
    """The official long title of ``code`` from its table's operation label (axis 3)
    and the labels of axes 4-7 (whatever each section calls them)."""
    section = code[0]
    if section in "01":
        return _title_medical(code, operation, body_part, approach, device, qualifier)
    if section == "X":
        return _title_new_technology(
            code, operation, body_part, approach, device, qualifier
        )
    return _title_other(code, operation, body_part, approach, device, qualifier)


def _title_medical(code: str, op: str, bp: str, app: str, dev: str, qual: str) -> str:
    dev = _none(dev)
    qual = _none(qual)
    section = code[0]
    table = code[:3]
    if qual in QUALIFIER_REPLACES_BODY_PART:
        b = _qualifier(qual)
        qual = ""
    else:
        b = invert(bp)
    q = _qualifier(qual) if qual else ""
    d = _device(dev) if dev else ""
    a = _approach(app)
    if app.startswith("Via") and (
        table == "07Q"
        or (table == "079" and qual == "Diagnostic")
        or (table == "0WJ" and code[3] in "PQR")
    ):
        a += " Approach"
    if table == "0UD" and bp == "Ova":
        a = app
    before_approach: list[str] = []
    after_approach: list[str] = []
    device_done = False
    tooth = bp in ("Upper Tooth", "Lower Tooth")
    if qual == "Biventricular":
        d, q = f"{q} {d}", ""
    if op == "Insertion" and qual == "Via Umbilical Vein":
        d, q = f"{d}, {q},", ""

    if section == "1" and op == "Repair" and q:
        t, q = f"Repair {q} in {b}", ""
    elif section == "1" and op == "Transplantation" and q:
        t, q = f"Transplantation of {q} into {b}", ""
    elif section == "1" and op == "Drainage" and q:
        t, q = f"Drainage of {q} from {b}", ""
    elif section == "1" and op == "Extraction" and qual == "Manual":
        t, q = f"Manual Extraction of {b}", ""
    elif op == "Change":
        t, device_done = f"Change {d} in {b}", True
    elif op == "Insertion":
        t, device_done = f"Insertion of {d} into {b}", True
    elif op == "Removal":
        t, device_done = f"Removal of {d} from {b}", True
    elif op == "Revision":
        t, device_done = f"Revision of {d} in {b}", True
    elif op == "Control":
        t = f"Control Bleeding in {b}"
    elif op == "Extirpation":
        t = f"Extirpation of Matter from {b}"
    elif op == "Detachment":
        t = f"Detachment at {b}"
    elif op == "Fragmentation":
        of = table in VESSEL_FRAGMENTATION_TABLES and not bp.startswith(
            ("Coronary Artery", "Pericardium")
        )
        t = f"Fragmentation {'of' if of else 'in'} {b}"
    elif op == "Supplement" and (
        table == "0JU" or (table == "08U" and bp.startswith("Eye"))
    ):
        t = f"Supplement of {b}"
    elif op == "Repair" and tooth:
        t = f"Repair of {b}"
    elif op == "Creation" and table == "0W4":
        t, q = f"Creation of {q} in {b}", ""
    elif op == "Creation":
        t, q, device_done = f"Creation of {b} from {q} using {d}", "", True
    else:
        t = f"{op} of {b}" if op in OF_OPERATIONS else f"{op} {b}"

    if q and table in ("02U", "02Q") and qual in VALVE_ORIGINS:
        t, q = f"{t} created from {q}", ""
    if q and tooth:
        if op in ("Drainage", "Excision"):
            after_approach.append(q)
            q = ""
        elif op != "Reposition" or app == "External":
            t += f", {q}" + ("," if d and not device_done else "")
            q = ""
    if q and qual in QUALIFIER_OF_BODY_PART and not tooth:
        t += f", {q}" + ("," if d and not device_done else "")
        q = ""
    if op == "Transfer" and q:
        if qual.startswith(("Skin", "Subcutaneous Tissue")):
            t += f" with {q}"
        elif qual.endswith("Flap"):
            t += f", {q}"
        else:
            t += f" to {q}"
        q = ""
    if op == "Bypass" and q:
        coronary = bp.startswith("Coronary")
        if table == "021" and (
            coronary
            or (
                qual in ("Carotid", "Subclavian", "Innominate Artery")
                and bp.startswith("Pulmonary")
            )
        ):
            t += f" from {q}"
            if not d and not coronary:
                t += " with No Device"
        else:
            t += f" to {q}"
        q = ""
    if table == "0XR" and qual.startswith("Toe"):
        t, q, device_done = f"{t} with {q}, {d}", "", True
    if table == "0HR" and qual.endswith("Flap"):
        device_done = True
    if d and not device_done:
        t += f" with {d}"
    if q and qual in QUALIFIER_USING:
        t += ("," if d and not device_done else "") + f" using {q}"
    elif q and qual in QUALIFIER_AFTER_APPROACH:
        after_approach.append(q)
    elif q:
        before_approach.append(q)
    return ", ".join([t, *before_approach, a, *after_approach])


def _title_other(code: str, op: str, bp: str, app: str, dev: str, qual: str) -> str:
    section = code[0]
    if section == "2":  # Placement
        b, d = invert(bp), _none(dev)
        if code[1] == "Y":  # anatomical orifices
            if op == "Packing" and bp in ("Anorectal", "Nasal"):
                b += " Region"
            if op == "Change":
                return f"Change {b} {d}"
            if op == "Removal":
                return f"Removal of {b} {d}"
        if op == "Change":
            return f"Change {d} on {b}"
        if op == "Removal":
            return f"Removal of {d} on {b}"
        return f"{op} of {b}" + (f" using {d}" if d else "")

    if section == "3":  # Administration
        b = invert(bp) if bp != "None" else "Indwelling Device"
        sub, q = _none(dev), _none(qual)
        if sub.startswith("Stem Cells"):
            sub = invert(sub)
        if op == "Irrigation":
            a = "" if app == "External" and code[1] == "E" else _approach(app)
            return ", ".join(x for x in (f"Irrigation of {b} using {sub}", a, q) if x)
        if op == "Transfusion":
            q = q.replace(", ", " ")
            return (
                f"Transfusion of {q + ' ' if q else ''}{sub} into {b}, {_approach(app)}"
            )
        a = _approach(app)
        if q in (
            "Immunostimulator",
            "Immunosuppressive",
            "Recombinant Human-activated Protein C",
        ):
            a = app
        if q == "Monoclonal Antibody":
            sub = f"{sub}, {q},"
        elif q in ("Autologous", "Nonautologous", "Hyperthermic", "Nitric Oxide"):
            sub = f"{q} {sub}"
        elif q == "Blood Brain Barrier Disruption":
            sub = f"{q} Substance"
        elif q and q != "Other Substance":
            sub = q
        return f"{op} of {sub} into {b}, {a}"

    if section == "4":  # Measurement and Monitoring
        q = _none(qual)
        subject = " ".join(x for x in (_none(bp), _none(dev)) if x)
        if q == "Intracranial" and bp == "Central Nervous":
            subject, q = f"{q} {dev}", ""
        if q == "Stress":
            q = ""
            if op == "Monitoring":
                subject = f"{bp} Stress"
        parts = [f"{op} of {subject}"]
        if q in ("Indocyanine Green Dye", "Wireless Sensor"):
            parts[0] += f" using {q}"
        elif q:
            parts.append(q)
        parts.append(_approach(app))
        return ", ".join(parts)

    if section == "5":  # Extracorporeal or Systemic Assistance and Performance
        q = _none(qual)
        if q == "High Flow/Velocity Cannula":
            q = "High Nasal Flow/Velocity"
        if dev == "Oxygenation" and q == "Hyperbaric":
            return f"Extracorporeal Hyperbaric Oxygenation, {app}"
        if dev == "Oxygenation" and q.startswith("Membrane"):
            return f"Extracorporeal Oxygenation, {q}" + (
                ", Intraoperative" if app == "Intraoperative" else ""
            )
        subject = " ".join(x for x in (_none(bp), _none(dev)) if x)
        if op == "Assistance":
            t = f"Assistance with {subject}"
            if q in (
                "Balloon Pump",
                "Impeller Pump",
                "Other Pump",
                "Pulsatile Compression",
            ):
                return f"{t} using {q}, {app}"
            if q == "Supersaturated":
                return f"{t}, {q}"
        elif op == "Performance" and dev == "Ventilation":
            t = subject
        else:
            t = f"{op} of {subject}"
        return ", ".join(x for x in (t, app, q) if x)

    if section == "6":  # Extracorporeal or Systemic Therapies
        q = invert(_none(qual)) or _none(dev)
        if dev == "Donor Organ":
            return f"{op} of {bp} {dev}, {app}"
        if q:
            return f"{op} of {q}, {app}"
        if bp == "Skin":
            return f"{op} of {bp}, {app}"
        if _none(bp):
            return f"{op}, {bp}, {app}"
        return f"{op}, {app}"

    if section == "7":  # Osteopathic
        region = bp + (" Region" if bp in ("Cervical", "Thoracic", "Lumbar") else "")
        plain = dev in (
            "Other Method",
            "Fascial Release",
            "General Mobilization",
            "Lymphatic Pump",
        )
        return f"Osteopathic Treatment of {region} using {dev}" + (
            "" if plain else " Forces"
        )

    if section == "8":  # Other Procedures
        q = _none(qual)
        a = (
            ""
            if app == "External" and dev != "Near Infrared Spectroscopy"
            else _approach(app)
        )
        if dev == "Collection":
            return (
                f"Collection of {q} from Indwelling Device in {bp}"
                if code[1] == "C"
                else f"{q} Collection"
            )
        if dev == "Other Method":
            if q in ("Examination", "Piercing"):
                return f"{q} of {bp}"
            if q == "Suture Removal":
                return f"{q} from {bp}"
            return q
        if dev == "Acupuncture":
            return "Acupuncture" + (f" using {q}" if q else "")
        if dev == "Therapeutic Massage":
            return "Therapeutic Massage" + (f" of {q}" if q else "")
        t = f"{dev} of {bp}"
        if q and not q.startswith("With "):
            t, q = f"{t} using {q}", ""
        return ", ".join(x for x in (t, a, q) if x)

    if section == "9":  # Chiropractic
        region = bp + (
            " Region" if bp in ("Cervical", "Thoracic", "Lumbar", "Sacral") else ""
        )
        return f"Chiropractic Manipulation of {region}, {dev}"

    if section == "B":  # Imaging
        t = f"{op} of {invert(bp)}"
        contrast = _none(app)
        if contrast:
            plain = contrast.endswith("Contrast") or contrast == "Fluorescing Agent"
            t += f" using {contrast}" + ("" if plain else " Contrast")
        rest = [x for x in (_none(dev), _none(qual)) if x]
        if (
            _none(dev)
            and not contrast
            and dev not in ("Unenhanced and Enhanced", "Laser")
        ):
            t += f" using {dev}"
            rest = rest[1:]
        if dev == "Laser" and _none(qual):
            rest = [f"{dev} {qual}"]
        return ", ".join([t, *rest])

    if section == "C":  # Nuclear Medicine
        t = f"{op} of {invert(bp)}"
        if _none(app):
            t += f" using {app}"
        return ", ".join([t, *(x for x in (_none(dev), _none(qual)) if x)])

    if section == "D":  # Radiation Therapy (axis 5 is the modality qualifier)
        b = invert(bp)
        if op == "Beam Radiation":
            t = f"Beam Radiation of {b} using {app}"
        elif app == "Isotope Administration":
            t = f"{app} to {b}"
        elif op == "Brachytherapy":
            t = f"{app} Brachytherapy of {b}"
        else:
            t = f"{app} of {b}"
        if _none(dev):
            t += f" using {dev}"
        return ", ".join([t, *(x for x in (_none(qual),) if x)])

    if (
        section == "F"
    ):  # Physical Rehabilitation and Diagnostic Audiology (axis 5 is the type qualifier)
        if op == "Caregiver Training":
            t = f"Caregiver Training in {app}"
        elif op == "Device Fitting":
            t = f"{app} Device Fitting"
        else:
            t = f"{app} {op.split()[-1]}"
        if _none(bp):
            t += f" of {bp}"
        equipment = _none(dev)
        if equipment:
            plain = equipment in F_PLAIN_EQUIPMENT or equipment.endswith("Equipment")
            t += f" using {equipment}" + ("" if plain else " Equipment")
        return t

    if (
        section in "GH"
    ):  # Mental Health; Substance Abuse Treatment (axis 4 is the qualifier)
        suffix = " for Substance Abuse Treatment" if section == "H" else ""
        if section == "G" and op == "Counseling":
            return bp if bp.startswith("Other") else f"{bp} {op}"
        if bp == "Other Replacement Medication":
            return f"{op}{suffix}, {bp}"
        if bp.startswith("Other "):
            return bp if op == "Electroconvulsive Therapy" else f"{op}{suffix}"
        return f"{op}{suffix}" + (f", {bp}" if _none(bp) else "")

    # An unknown section: the labels in axis order.
    return ", ".join(
        x for x in (op, _none(bp), _none(app), _none(dev), _none(qual)) if x
    )


def _title_new_technology(
    code: str, op: str, bp: str, app: str, dev: str, qual: str
) -> str:
    b = invert(bp)
    if dev in X_DEVICE_PHRASES:
        d = X_DEVICE_PHRASES[dev]
    elif _MULTIPLE_DEVICES.match(dev):
        d = _device(dev)
    elif (
        op in ("Measurement", "Monitoring", "Assistance", "Inspection")
        or dev in X_DEVICES_AS_IS
    ):
        d = dev
    else:
        d = invert(dev)
    a = _approach(app)
    if (
        (code[1] in "XY" and app != "Percutaneous")
        or op == "Inspection"
        or (op == "Other Procedures" and app == "External")
    ):
        a = ""
    if code[1] == "Y":  # Extracorporeal
        t = f"Extracorporeal {op} of {d}" + (
            "" if bp == "Extracorporeal" else f" to {b}"
        )
    elif op in ("Introduction", "Transfusion", "Insertion"):
        t = f"{op} of {d} into {b}"
    elif op == "Supplement":
        t = f"Supplement {b} with {d}"
    elif op in ("Restriction", "Replacement"):
        t = f"{op} of {b} {'using' if d.startswith('Branched') else 'with'} {d}"
    elif op == "Assistance":
        if bp.startswith("Coronary Sinus"):
            t = d
        else:
            t = f"{d} {'from' if 'Flow Reversal' in d else 'in'} {b}"
    elif op == "Measurement":
        t = "Measurement of " + (f"{bp} {d}" if d.startswith("Output") else d)
    elif op == "Monitoring":
        if code[1] == "X":
            t = "Monitoring of " + (f"{bp} {d}" if bp == "Musculoskeletal" else d)
        elif code[1] == "T":
            t = f"Monitoring of {b} using {d}"
        else:
            t = f"Monitoring of {b} {d}"
    elif op == "Other Procedures":
        t = f"{d} of {b}"
    elif op == "Extirpation":
        t = f"Extirpation of Matter from {b} using {d}"
    elif op == "Bypass":
        t = f"Bypass {b} using {d}"
    elif op in X_USING_OPERATIONS:
        t = f"{op} of {b} using {d}"
    else:
        t = f"{op} of {b} with {d}"
    return ", ".join(x for x in (t, a, _none(qual)) if x)


# ---------------------------------------------------------------------------
# Parsing


class _Axis:
    __slots__ = ("definition", "labels", "line", "pos", "title", "values")

    def __init__(self, pos: int, values: int | None, line: int) -> None:
        self.pos = pos
        self.values = values
        self.line = line
        self.title = ""
        self.labels: list[tuple[str, str]] = []
        self.definition = ""


class _Row:
    __slots__ = ("axes", "codes", "line")

    def __init__(self, codes: int | None, line: int) -> None:
        self.codes = codes
        self.line = line
        self.axes: list[_Axis] = []


class _Table:
    __slots__ = ("axes", "line", "rows")

    def __init__(self, line: int) -> None:
        self.line = line
        self.axes: list[_Axis] = []
        self.rows: list[_Row] = []


def _int_attr(attrib: dict, name: str, tag: str, line: int) -> int | None:
    raw = attrib.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise ImportFormatError(
            f'{name}="{raw}" must be a whole number.', line=line, element=tag
        )
    return int(raw)


class _Builder:
    """expat target: checks the structure and collects tables, nodes and codes."""

    def __init__(self, result: ParseResult) -> None:
        self.result = result
        self.expat: XMLParserType | None = None  # the expat parser, for line numbers
        self.stack: list[str] = []
        self.text: list[str] = []
        self.version = ""
        self.saw_root = False
        self.table: _Table | None = None
        self.row: _Row | None = None
        self.axis: _Axis | None = None
        self.label_code = ""
        self.tables: dict[str, int] = {}
        self.codes: dict[str, int] = {}
        self.headers: dict[str, str] = {}
        self.unknown: set[str] = set()

    @property
    def line(self) -> int:
        return self.expat.CurrentLineNumber if self.expat is not None else 0

    def start(self, tag: str, attrib: dict) -> None:
        line = self.line
        parent = self.stack[-1] if self.stack else None
        self.stack.append(tag)
        self.text = []
        if parent is None:
            if tag != ROOT_TAG:
                raise ImportFormatError(
                    f"This is not an ICD-10-PCS tables file: the root element is <{tag}>, expected <{ROOT_TAG}>.",
                    line=line,
                    element=tag,
                )
            self.saw_root = True
            return
        if tag == "pcsTable" and parent == ROOT_TAG:
            self.table = _Table(line)
        elif tag == "pcsRow" and parent == "pcsTable":
            self.row = _Row(_int_attr(attrib, "codes", tag, line), line)
        elif tag == "axis" and parent in ("pcsTable", "pcsRow"):
            pos = _int_attr(attrib, "pos", tag, line)
            if pos is None:
                raise ImportFormatError(
                    "An axis has no pos attribute.", line=line, element=tag
                )
            self.axis = _Axis(pos, _int_attr(attrib, "values", tag, line), line)
        elif tag == "label" and parent == "axis":
            self.label_code = attrib.get("code", "")
        elif (tag in ("title", "definition") and parent == "axis") or (
            tag in ("version", "title") and parent == ROOT_TAG
        ):
            pass
        elif tag in ("pcsTable", "pcsRow", "axis", "label", "version", "definition"):
            raise ImportFormatError(
                f"<{tag}> is out of place inside <{parent}>.", line=line, element=tag
            )
        elif tag not in self.unknown:
            self.unknown.add(tag)
            self.result.warnings.append(
                f"Unknown element <{tag}> (first on line {line}) was ignored."
            )

    def data(self, text: str) -> None:
        self.text.append(text)

    def end(self, tag: str) -> None:
        self.stack.pop()
        parent = self.stack[-1] if self.stack else None
        text = " ".join("".join(self.text).split())
        self.text = []
        line = self.line
        if tag == "version" and parent == ROOT_TAG:
            self.version = text
        elif tag == "title" and parent == "axis" and self.axis is not None:
            self.axis.title = text
        elif tag == "definition" and parent == "axis" and self.axis is not None:
            self.axis.definition = text
        elif tag == "label" and parent == "axis" and self.axis is not None:
            code = self.label_code
            if len(code) != 1 or code not in PCS_ALPHABET:
                raise ImportFormatError(
                    f'Label code "{code}" must be one character of 0-9 or A-Z without I and O '
                    f"(axis {self.axis.pos}).",
                    line=line,
                    element="label",
                )
            if not text:
                raise ImportFormatError(
                    f'Label "{code}" of axis {self.axis.pos} has no text.',
                    line=line,
                    element="label",
                )
            if any(c == code for c, _ in self.axis.labels):
                raise ImportFormatError(
                    f'Label code "{code}" appears twice in axis {self.axis.pos}.',
                    line=line,
                    element="label",
                )
            self.axis.labels.append((code, text))
        elif tag == "axis" and self.axis is not None:
            axis, self.axis = self.axis, None
            if not axis.labels:
                raise ImportFormatError(
                    f"Axis {axis.pos} has no labels.", line=axis.line, element="axis"
                )
            if axis.values is not None and axis.values != len(axis.labels):
                raise ImportFormatError(
                    f'Axis {axis.pos} says values="{axis.values}" but lists {len(axis.labels)} labels.',
                    line=axis.line,
                    element="axis",
                )
            owner = self.row if parent == "pcsRow" else self.table
            if owner is not None:
                owner.axes.append(axis)
        elif tag == "pcsRow" and self.row is not None and self.table is not None:
            self.table.rows.append(self.row)
            self.row = None
        elif tag == "pcsTable" and self.table is not None:
            table, self.table = self.table, None
            self._finish_table(table)

    def close(self) -> None:
        return None

    def _finish_table(self, table: _Table) -> None:
        positions = [a.pos for a in table.axes]
        if positions != [1, 2, 3]:
            raise ImportFormatError(
                f"A table must have axes 1, 2 and 3 in order; this one has {positions}.",
                line=table.line,
                element="pcsTable",
            )
        for axis in table.axes:
            if len(axis.labels) != 1:
                raise ImportFormatError(
                    f"Axis {axis.pos} of a table must have exactly one label, found {len(axis.labels)}.",
                    line=axis.line,
                    element="axis",
                )
        (c1, section), (c2, body_system), (c3, operation) = (
            a.labels[0] for a in table.axes
        )
        code3 = c1 + c2 + c3
        if code3 in self.tables:
            raise ImportFormatError(
                f"Table {code3} appears twice (first on line {self.tables[code3]}).",
                line=table.line,
                element="pcsTable",
            )
        self.tables[code3] = table.line
        if not table.rows:
            raise ImportFormatError(
                f"Table {code3} has no rows.", line=table.line, element="pcsTable"
            )

        result = self.result
        self._header(c1, "chapter", section, "", c1, "")
        self._header(c1 + c2, "block", body_system, c1, c1, c1 + c2)
        self._header(code3, "category", operation, c1 + c2, c1, c1 + c2)

        rows = []
        for number, row in enumerate(table.rows, 1):
            where = f"row {number} of table {code3}"
            where_cap = where[0].upper() + where[1:]
            positions = [a.pos for a in row.axes]
            if positions != [4, 5, 6, 7]:
                raise ImportFormatError(
                    f"{where_cap} must have axes 4, 5, 6 and 7 in order; it has {positions}.",
                    line=row.line,
                    element="pcsRow",
                )
            count = 1
            for axis in row.axes:
                count *= len(axis.labels)
            if row.codes is None:
                result.warnings.append(
                    f"{where_cap} (line {row.line}) does not state codes=; it yields {count}."
                )
            elif row.codes != count:
                raise ImportFormatError(
                    f'{where_cap} says codes="{row.codes}" but its axes yield {count} codes '
                    f"({' x '.join(str(len(a.labels)) for a in row.axes)}).",
                    line=row.line,
                    element="pcsRow",
                )
            for combo in itertools.product(*(axis.labels for axis in row.axes)):
                code = code3 + "".join(c for c, _ in combo)
                if code in self.codes:
                    raise ImportFormatError(
                        f"Code {code} ({where}) appears twice (first in the row on line {self.codes[code]}).",
                        line=row.line,
                        element="pcsRow",
                    )
                self.codes[code] = row.line
                title = build_title(code, operation, *(label for _, label in combo))
                result.codes.append(
                    ParsedCode(code, "code", True, title, title, code3, c1, c1 + c2)
                )
            rows.append(
                {
                    "axes": [
                        {
                            "pos": a.pos,
                            "title": a.title,
                            "values": [
                                {"code": c, "label": label} for c, label in a.labels
                            ],
                        }
                        for a in row.axes
                    ]
                }
            )
        axes = [
            {
                "pos": a.pos,
                "title": a.title,
                "code": a.labels[0][0],
                "label": a.labels[0][1],
                "definition": a.definition,
            }
            for a in table.axes
        ]
        result.pcs_tables.append(ParsedPcsTable(code=code3, axes=axes, rows=rows))

    def _header(
        self, code: str, kind: str, title: str, parent: str, chapter: str, block: str
    ) -> None:
        known = self.headers.get(code)
        if known is None:
            self.headers[code] = title
            self.result.codes.append(
                ParsedCode(code, kind, False, title, title, parent, chapter, block)
            )
        elif known != title:
            self.result.warnings.append(
                f"{code} is titled {known!r} in one table and {title!r} in another; the first title is kept."
            )


_HEAD_COMMENT = re.compile(rb"<!--.*?-->", re.S)
_FIRST_ELEMENT = re.compile(rb"<([A-Za-z_][-\w.:]*)")


class TablesImporter:
    name = "icd10pcs_tables"
    system = "icd10pcs"
    description = "ICD-10-PCS tables XML"

    def detect(self, head: bytes) -> bool:
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        match = _FIRST_ELEMENT.search(_HEAD_COMMENT.sub(b"", head))
        return match is not None and match.group(1) == ROOT_TAG.encode()

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        path = Path(path)
        total = os.path.getsize(path)
        result = ParseResult(system=self.system, format=self.name)
        builder = _Builder(result)
        parser = DefusedXMLParser(
            target=builder, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
        builder.expat = parser.parser
        read = 0
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    parser.feed(chunk)
                    read += len(chunk)
                    if progress is not None:
                        progress(read, total)
            parser.close()
        except ParseError as exc:
            line = exc.position[0] if getattr(exc, "position", None) else None
            element = builder.stack[-1] if builder.stack else ""
            reason = str(exc).split(": line")[0]
            raise ImportFormatError(
                f"The XML is malformed or cut short: {reason}.",
                line=line,
                element=element,
            ) from None
        except DefusedXmlException as exc:
            raise ImportFormatError(
                "The XML declares entities or refers to external resources, which are not allowed "
                f"in an official tables file ({type(exc).__name__}).",
                line=builder.line or None,
                element="!DOCTYPE",
            ) from None
        if not builder.saw_root:
            raise ImportFormatError("The file holds no XML elements.", line=1)
        if not result.pcs_tables:
            raise ImportFormatError(
                "The file holds no <pcsTable>.",
                line=builder.line or None,
                element=ROOT_TAG,
            )
        result.version = builder.version
        if not builder.version:
            result.warnings.append("The file has no <version>.")
        if progress is not None:
            progress(total, total)
        return result


IMPORTER = TablesImporter()
