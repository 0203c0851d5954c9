"""The code sets `make run` loads (load_default_codesets): each bundled file is in the
format of the system it is loaded as (no database needed)."""

from __future__ import annotations

import gzip
import shutil

import pytest

from codesets import table_releases
from codesets.management.commands.load_default_codesets import bundled_files


@pytest.mark.parametrize(
    ("path", "system"),
    [(path, system) for path, system, *_ in bundled_files()],
    ids=lambda v: getattr(v, "name", v),
)
def test_each_bundled_file_is_detected_as_its_system(tmp_path, path, system):
    plain = tmp_path / "file"
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rb") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    importer = table_releases.detect_importer(plain, system=system)
    assert table_releases.release_kind(importer) == system
