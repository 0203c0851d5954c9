"""ICD-10-PCS Definitions XML (``icd10pcs_definitions_YYYY.xml``, root
``<ICD10PCS.definitions>``).

Layout (CMS)::

    <ICD10PCS.definitions>
      <version>2025</version>
      <title>2025 ICD-10-PCS Definitions</title>
      <section code="0">
        <title>Medical and Surgical</title>
        <axis pos="3">
          <title>Operation</title>
          <terms>
            <title>Resection</title>
            <definition>Cutting out or off, without replacement, all of a body part</definition>
            <explanation>...</explanation>                   (optional)
            <includes>Total nephrectomy, total lobectomy of lung</includes>
          </terms>
        </axis>
        <axis pos="4"><title>Body Part</title>                  the body-part key
          <terms><title>Appendix</title><includes>Vermiform appendix</includes></terms>
        <axis pos="5"><title>Approach</title>
          <terms><title>Percutaneous Endoscopic</title><definition>Entry, by puncture ...
        <axis pos="6"><title>Device</title>                     the device key
          <terms><title>Synthetic Substitute</title><includes>...</includes>...
      </section>
      <deviceAggregation>
        <aggregate>
          <device>Cardiac Lead, Defibrillator</device>
          <operation>Insertion</operation>
          <bodySys>Heart and Great Vessels</bodySys>
          <parent value="M">Cardiac Lead</parent>
        </aggregate>
      </deviceAggregation>

Result: one ``ParsedPcsDefinition`` per ``<terms>`` (with its section and axis) and
per ``<aggregate>`` (axis 0), in document order. A ``<terms>`` may name several
values (a body part once per side) and list several ``<includes>``.

Refused, with the line and the element: another root element, a section without a
``code`` attribute or an axis without a ``pos`` (a position 1-7), an entry without a
title, an aggregate without its device or its parent's ``value``, a malformed or
truncated file. Elements the layout does not name are skipped with a warning.
"""

from __future__ import annotations

from pathlib import Path

from ._xml import Node, TreeTarget, detect_root, node_error, stream_parse
from .base import ImportFormatError, ParsedPcsDefinition, ParseResult, Progress

ROOT_TAG = "ICD10PCS.definitions"
TERM_TAGS = frozenset({"title", "definition", "explanation", "includes"})
AGGREGATE_TAGS = frozenset({"device", "operation", "bodySys", "parent"})


class _Reader:
    def __init__(self) -> None:
        self.out: list[ParsedPcsDefinition] = []
        self.skipped: dict[str, int] = {}

    def skip(self, node: Node) -> None:
        self.skipped[node.tag] = self.skipped.get(node.tag, 0) + 1

    def section(self, node: Node) -> None:
        code = (node.attrib.get("code") or "").strip().upper()
        if len(code) != 1 or not code.isalnum():
            raise node_error(
                f"A <section> needs a code attribute (one character), found {code!r}",
                node,
            )
        for child in node.children:
            if child.tag == "axis":
                self.axis(child, code)
            elif child.tag != "title":
                self.skip(child)

    def axis(self, node: Node, section: str) -> None:
        pos = (node.attrib.get("pos") or "").strip()
        if not pos.isdigit() or not 1 <= int(pos) <= 7:
            raise node_error(
                f"An <axis> of section {section} needs a pos attribute (1-7), found {pos!r}",
                node,
            )
        title_node = node.first("title")
        axis_title = title_node.text if title_node else ""
        if not axis_title:
            raise node_error(f"Axis {pos} of section {section} has no <title>", node)
        for child in node.children:
            if child.tag == "terms":
                self.terms(child, section, int(pos), axis_title)
            elif child.tag != "title":
                self.skip(child)

    def terms(self, node: Node, section: str, pos: int, axis_title: str) -> None:
        titles = tuple(t.text for t in node.all("title") if t.text)
        if not titles:
            raise node_error(
                f"A <terms> of section {section}, axis {pos} ({axis_title}) has no <title>",
                node,
            )
        definition = node.first("definition")
        explanation = node.first("explanation")
        for child in node.children:
            if child.tag not in TERM_TAGS:
                self.skip(child)
        self.out.append(
            ParsedPcsDefinition(
                section=section,
                axis=pos,
                axis_title=axis_title,
                titles=titles,
                definition=definition.text if definition else "",
                explanation=explanation.text if explanation else "",
                includes=tuple(i.text for i in node.all("includes") if i.text),
            )
        )

    def aggregate(self, node: Node) -> None:
        device = node.first("device")
        parent = node.first("parent")
        if device is None or not device.text:
            raise node_error("An <aggregate> has no <device>", node)
        if parent is None or not (parent.attrib.get("value") or "").strip():
            raise node_error(
                f"The <aggregate> of {device.text!r} needs a <parent> with a value attribute",
                parent or node,
            )
        for child in node.children:
            if child.tag not in AGGREGATE_TAGS:
                self.skip(child)
        self.out.append(
            ParsedPcsDefinition(
                section="",
                axis=0,
                axis_title="Device aggregation",
                titles=(device.text,),
                includes=tuple(o.text for o in node.all("operation") if o.text),
                body_systems=tuple(b.text for b in node.all("bodySys") if b.text),
                parent=parent.text,
                parent_value=parent.attrib["value"].strip().upper(),
            )
        )

    def document(self, root: Node) -> str:
        version = ""
        for child in root.children:
            if child.tag == "version":
                version = child.text
            elif child.tag == "section":
                self.section(child)
            elif child.tag == "deviceAggregation":
                for aggregate in child.children:
                    if aggregate.tag == "aggregate":
                        self.aggregate(aggregate)
                    else:
                        self.skip(aggregate)
            elif child.tag != "title":
                self.skip(child)
        return version


class PcsDefinitionsImporter:
    name = "icd10pcs_definitions"
    system = "icd10pcs"
    description = "ICD-10-PCS Definitions XML"

    def detect(self, head: bytes) -> bool:
        return detect_root(head, ROOT_TAG)

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        target = TreeTarget(ROOT_TAG, "an ICD-10-PCS Definitions file")
        stream_parse(Path(path), target, target.where, progress)
        if target.root is None:
            raise ImportFormatError("The file holds no XML element.", line=1)
        reader = _Reader()
        version = reader.document(target.root)
        if not any(d.axis for d in reader.out):
            raise ImportFormatError(
                "The definitions hold no <section> with axis definitions.",
                element=ROOT_TAG,
            )
        result = ParseResult(system=self.system, format=self.name, version=version)
        result.pcs_definitions = reader.out
        if not version:
            result.warnings.append("The file has no <version>.")
        if reader.skipped:
            result.warnings.append(
                "Elements the definitions layout does not name were skipped: "
                + ", ".join(f"<{t}> x{n}" for t, n in sorted(reader.skipped.items()))
                + "."
            )
        return result


IMPORTER = PcsDefinitionsImporter()
