"""Importers of the official code-set files, one module per format.

``detect_importer`` reads the head of a file and picks the module that
recognises it; the first match in ``IMPORTER_MODULES`` wins, so list stricter
formats before looser ones.
"""

from __future__ import annotations

import csv
import importlib
from functools import cache
from pathlib import Path

from .base import HEAD_BYTES, Importer, ImportFormatError, ParseResult

IMPORTER_MODULES = (
    "icd10cm_tabular",
    "icd10cm_addenda",
    "poa_exempt",
    "icd10cm_order",
    "icd10cm_codes",
    "icd10pcs_tables",
    "icd10pcs_order",
    "icd10pcs_codes",
    "icd10pcs_index",
    "icd10pcs_definitions",
    "icd10cm_index",
    "drg_weights",
    "ncci_ptp",
    "mue",
    "hcpcs_record",
    "cpt_file",
)


@cache
def all_importers() -> tuple[Importer, ...]:
    found = []
    for name in IMPORTER_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        found.append(module.IMPORTER)
    return tuple(found)


def get_importer(name: str) -> Importer:
    for importer in all_importers():
        if importer.name == name:
            return importer
    raise KeyError(name)


def detect_importer(path: Path, *, system: str | None = None) -> Importer:
    """The importer for this file, judged from its content (never its name)."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    if not head.strip():
        raise ImportFormatError("The file is empty.")
    for importer in all_importers():
        if system and importer.system != system:
            continue
        try:
            found = importer.detect(head)
        except (csv.Error, ValueError):
            # A detector choking on the bytes (a binary file read as CSV text):
            # not its format, and the next detector may still know it.
            found = False
        if found:
            return importer
    known = ", ".join(
        i.description for i in all_importers() if not system or i.system == system
    )
    raise ImportFormatError(
        "The file is not in a format this workbench imports"
        + (f" for {system}" if system else "")
        + f". Known formats: {known}."
    )


__all__ = [
    "ImportFormatError",
    "Importer",
    "ParseResult",
    "all_importers",
    "detect_importer",
    "get_importer",
]
