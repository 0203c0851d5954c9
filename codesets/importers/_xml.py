"""Shared plumbing of the streaming ICD-10-CM XML importers (tabular and index).

defusedxml's expat parser feeds a target (no tree is built); DTD entity
declarations and external references are refused; errors carry the line
number and the innermost open element.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import XMLParserType

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from .base import ImportFormatError, Progress

CHUNK_SIZE = 256 * 1024

_DETECT_COMMENT_RE = re.compile(rb"<!--.*?-->", re.S)
_DETECT_START_TAG_RE = re.compile(rb"<([A-Za-z_][\w.\-:]*)")


def clean(text: str) -> str:
    """Collapse runs of white space (the XML indents and wraps some texts)."""
    return " ".join(text.split())


def detect_root(head: bytes, root_tag: str) -> bool:
    """Whether the first element of ``head`` (BOM, white space and comments aside) is ``root_tag``."""
    head = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not head.startswith(b"<"):
        return False
    head = _DETECT_COMMENT_RE.sub(b"", head[:16384])
    match = _DETECT_START_TAG_RE.search(head)
    return bool(match and match.group(1) == root_tag.encode())


class StreamTarget:
    """Base of the expat targets: open element stack, line numbers, failures."""

    def __init__(self) -> None:
        # set after the parser exists, for line numbers
        self.expat: XMLParserType | None = None
        self.stack: list[str] = []  # open element tags

    def line(self) -> int | None:
        return self.expat.CurrentLineNumber if self.expat is not None else None

    def fail(self, message: str, element: str = "") -> NoReturn:
        raise ImportFormatError(
            message,
            line=self.line(),
            element=element or (self.stack[-1] if self.stack else ""),
        )

    def close(self) -> None:
        return None


def stream_parse(
    path: Path,
    target: StreamTarget,
    where: Callable[[], str],
    progress: Progress | None,
) -> None:
    """Feed the file at ``path`` to ``target`` chunk by chunk, reporting progress.

    Malformed XML and refused entities raise ``ImportFormatError``; ``where()``
    is appended to the message of malformed XML to say where in the document
    the parser was.
    """
    total = os.path.getsize(path)
    parser = DefusedXMLParser(target=target)
    expat = parser.parser
    target.expat = expat
    read = 0
    try:
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(CHUNK_SIZE)
                if not chunk:
                    break
                read += len(chunk)
                parser.feed(chunk)
                if progress is not None:
                    progress(read, total)
        parser.close()
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        element = target.stack[-1] if target.stack else ""
        message = re.sub(r":\s*line \d+, column \d+$", "", str(exc))
        if "no element found" in message or "unclosed token" in message:
            text = "The XML file is incomplete (truncated?)"
        else:
            text = "The XML is malformed"
        raise ImportFormatError(
            f"{text}: {message}{where()}", line=line, element=element
        ) from exc
    except DefusedXmlException as exc:
        name = getattr(exc, "name", None)
        what = f"the entity {name!r}" if name else "an entity or external reference"
        raise ImportFormatError(
            f"The XML declares {what} in a DOCTYPE; entity declarations and external references "
            "are refused for safety (they can expand without limit or read other files)",
            line=expat.CurrentLineNumber,
            element="!DOCTYPE",
        ) from exc


class Node:
    """An element of a small document kept whole (the PCS index and definitions):
    its tag, attributes, own text (children's text apart) and the line it starts on."""

    __slots__ = ("attrib", "children", "line", "parts", "tag")

    def __init__(self, tag: str, attrib: dict[str, str], line: int) -> None:
        self.tag = tag
        self.attrib = attrib
        self.line = line
        self.children: list[Node] = []
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        return clean("".join(self.parts))

    def first(self, tag: str) -> Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def all(self, tag: str) -> list[Node]:
        return [c for c in self.children if c.tag == tag]


class TreeTarget(StreamTarget):
    """Builds a tree of ``Node`` (with line numbers) from the expat events; the
    importer then reads it and points at a node's line when something is wrong."""

    def __init__(self, root_tag: str, description: str) -> None:
        super().__init__()
        self.root_tag = root_tag
        self.description = description
        self.root: Node | None = None
        self.nodes: list[Node] = []

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        node = Node(tag, dict(attrib), self.line() or 0)
        if self.root is None:
            if tag != self.root_tag:
                raise ImportFormatError(
                    f"This is not {self.description}: its root element is <{tag}>, "
                    f"not <{self.root_tag}>.",
                    line=self.line(),
                    element=tag,
                )
            self.root = node
        else:
            self.nodes[-1].children.append(node)
        self.nodes.append(node)
        self.stack.append(tag)

    def data(self, text: str) -> None:
        if self.nodes:
            self.nodes[-1].parts.append(text)

    def end(self, tag: str) -> None:
        self.nodes.pop()
        self.stack.pop()

    def where(self) -> str:
        return ""


def node_error(message: str, node: Node) -> ImportFormatError:
    return ImportFormatError(message, line=node.line, element=node.tag)
