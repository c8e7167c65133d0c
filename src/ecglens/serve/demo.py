"""Demo records the server classifies by name (``POST /predict?demo=NAME``, ``GET /demo``): the
WFDB records of a folder, with what ``/demo`` shows of each."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from ecglens.io.formats import WFDB_ANNOTATION, WFDB_HEADER
from ecglens.serve.results import RESULT_ID

log = logging.getLogger("ecglens.serve")


def demo_records(demo_dir: Path | None) -> dict[str, dict[str, Any]]:
    """Demo records (WFDB headers in ``demo_dir``) by name, with what /demo shows."""
    if demo_dir is None or not Path(demo_dir).is_dir():
        return {}
    import wfdb

    found = {}
    for header in sorted(Path(demo_dir).glob(f"*{WFDB_HEADER}")):
        if not re.match(RESULT_ID, header.stem):
            continue
        try:
            head = wfdb.rdheader(str(header.with_suffix("")))
        except Exception:  # a damaged demo file is left out, not fatal
            log.warning("demo record %s left out", header, exc_info=True)
            continue
        found[header.stem] = {
            "path": header.with_suffix(""),
            "name": header.stem,
            "sampling_rate": float(head.fs),
            "duration_s": round(float(head.sig_len or 0) / float(head.fs), 1),
            "leads": [str(n) for n in head.sig_name or []],
            "annotations": header.with_suffix(WFDB_ANNOTATION[0]).exists(),
            "comments": [str(c) for c in (head.comments or [])[:3]],
        }
    return found
