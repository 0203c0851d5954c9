"""ICD-10-PCS Index XML (``icd10pcs_index_YYYY.xml``, root ``<ICD10PCS.index>``).

Layout (CMS)::

    <ICD10PCS.index>
      <version>2025</version>
      <title>2025 ICD-10-PCS Index</title>
      <letter>
        <title>A</title>
        <mainTerm>
          <title>Appendectomy</title>
          <term level="1">
            <see>Resection, Appendix<codes>0DTJ</codes></see>     a "see" with a code start
          </term>
        </mainTerm>
        <mainTerm>
          <title>Appendiceal orifice</title>
          <use>Appendix</use>                                     a body-part key
        </mainTerm>
        <mainTerm>
          <title>Acetabulectomy</title>
          <term level="1"><see>Excision, Lower Bones<tab>0QB</tab></see></term>
        </mainTerm>
        <mainTerm>
          <title>Abortion</title>
          <term level="1"><title>Abortifacient</title><code>10A07ZX</code></term>
        </mainTerm>

A term holds at most one title and one reference: ``<see>`` (text, optionally a
``<codes>`` or ``<tab>`` inside), ``<use>`` (text, optionally a ``<tab>`` inside),
``<code>`` (a full 7-character code), ``<codes>`` (a code start of 4-6 characters)
or ``<tab>`` (a table, 3 characters); then its subterms, ``level`` = depth.

Result: one ``ParsedPcsIndexTerm`` per ``<mainTerm>`` and ``<term>`` in document
order (parents before subterms). A term without a title of its own carries its
parent's path (the index prints it as one more line under the parent). Letters are
not part of the path.

Refused, with the line and the element: another root element, a main term without
a title, a term whose level is not its depth, a term with two references or two
titles, a code that is not made of PCS characters (digits and letters other than I
and O) of the length its element allows, and a truncated or malformed file.
Elements the layout does not name are skipped with a warning.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._xml import Node, TreeTarget, detect_root, node_error, stream_parse
from .base import ImportFormatError, ParsedPcsIndexTerm, ParseResult, Progress

ROOT_TAG = "ICD10PCS.index"
PCS_CHARS = re.compile(r"[0-9A-HJ-NP-Z]+")
# The lengths each code element may hold.
CODE_LENGTHS = {"code": (7,), "codes": (4, 5, 6), "tab": (3,)}
REFERENCES = ("see", "use", "code", "codes", "tab")


class _Reader:
    def __init__(self) -> None:
        self.out: list[ParsedPcsIndexTerm] = []
        self.skipped: dict[str, int] = {}
        self.letters = 0

    def skip(self, node: Node) -> None:
        self.skipped[node.tag] = self.skipped.get(node.tag, 0) + 1

    def code_of(self, node: Node, term: str) -> str:
        code = node.text.upper()
        lengths = CODE_LENGTHS[node.tag]
        if not PCS_CHARS.fullmatch(code) or len(code) not in lengths:
            allowed = " or ".join(str(n) for n in lengths)
            raise node_error(
                f"<{node.tag}> of {term!r} holds {node.text!r}, which is not "
                f"{allowed} ICD-10-PCS characters",
                node,
            )
        return code

    def term(self, node: Node, parent_path: tuple[str, ...], depth: int) -> None:
        if node.tag == "term":
            level = (node.attrib.get("level") or "").strip()
            if level != str(depth):
                where = " > ".join(parent_path)
                raise node_error(
                    f"A <term> at depth {depth} has level {level!r} (in {where}); "
                    "the level must be its depth",
                    node,
                )
        titles = node.all("title")
        if len(titles) > 1:
            raise node_error(
                f"A <{node.tag}> has two titles ({titles[0].text!r} and {titles[1].text!r})",
                titles[1],
            )
        title = titles[0].text if titles else ""
        if node.tag == "mainTerm" and not title:
            raise node_error("A <mainTerm> has no <title>", node)
        path = (*parent_path, title) if title else parent_path
        named = " > ".join(path)
        references = [c for c in node.children if c.tag in REFERENCES]
        if len(references) > 1:
            raise node_error(
                f"{named!r} has two references (<{references[0].tag}> and "
                f"<{references[1].tag}>); a term holds one",
                references[1],
            )
        see = use = code = ""
        if references:
            ref = references[0]
            if ref.tag in ("see", "use"):
                text = ref.text
                inner = [c for c in ref.children if c.tag in CODE_LENGTHS]
                for extra in ref.children:
                    if extra.tag not in CODE_LENGTHS or (
                        extra.tag == "code" or (ref.tag == "use" and extra.tag != "tab")
                    ):
                        raise node_error(
                            f"<{extra.tag}> is not allowed inside <{ref.tag}> of {named!r}",
                            extra,
                        )
                if len(inner) > 1:
                    raise node_error(
                        f"<{ref.tag}> of {named!r} holds two codes", inner[1]
                    )
                if not text:
                    raise node_error(f"<{ref.tag}> of {named!r} is empty", ref)
                if inner:
                    code = self.code_of(inner[0], named)
                if ref.tag == "see":
                    see = text
                else:
                    use = text
            else:
                code = self.code_of(ref, named)
        subterms = node.all("term")
        if not title and not references and not subterms:
            raise node_error(
                f"A <term> under {named!r} has no title, reference or subterm", node
            )
        for child in node.children:
            if child.tag not in ("title", "term", *REFERENCES):
                self.skip(child)
        self.out.append(
            ParsedPcsIndexTerm(
                path=path, title=title, see=see, use=use, code=code, line=node.line
            )
        )
        for sub in subterms:
            self.term(sub, path, depth + 1)

    def document(self, root: Node) -> str:
        version = ""
        for child in root.children:
            if child.tag == "version":
                version = child.text
            elif child.tag == "letter":
                self.letters += 1
                for main in child.children:
                    if main.tag == "mainTerm":
                        self.term(main, (), 0)
                    elif main.tag == "term":
                        raise node_error(
                            "A <term> stands directly under a <letter>; it belongs "
                            "to a <mainTerm>",
                            main,
                        )
                    elif main.tag != "title":
                        self.skip(main)
            elif child.tag != "title":
                self.skip(child)
        return version


class PcsIndexImporter:
    name = "icd10pcs_index"
    system = "icd10pcs"
    description = "ICD-10-PCS Index XML"

    def detect(self, head: bytes) -> bool:
        return detect_root(head, ROOT_TAG)

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        target = TreeTarget(ROOT_TAG, "an ICD-10-PCS Index file")
        stream_parse(Path(path), target, target.where, progress)
        if target.root is None:
            raise ImportFormatError("The file holds no XML element.", line=1)
        reader = _Reader()
        version = reader.document(target.root)
        if not reader.out:
            raise ImportFormatError(
                "The index holds no <letter> with main terms.", element=ROOT_TAG
            )
        result = ParseResult(system=self.system, format=self.name, version=version)
        result.pcs_index_terms = reader.out
        if not version:
            result.warnings.append("The file has no <version>.")
        if reader.skipped:
            result.warnings.append(
                "Elements the index layout does not name were skipped: "
                + ", ".join(f"<{t}> x{n}" for t, n in sorted(reader.skipped.items()))
                + "."
            )
        return result


IMPORTER = PcsIndexImporter()
