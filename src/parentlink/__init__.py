"""parentlink: a reproducible survey and document-analysis pipeline (Snakemake engine, study as data).

One module per stage: synth (synthetic study), ingest, clean, weight, estimate, disclosure,
documents, charts, render. Errors that a user can cause raise :class:`parentlink.errors.UserError`.
"""

import os

__version__ = "0.1.0"

# Dates stamped into outputs (.sav headers, workbook, PDFs) come from SOURCE_DATE_EPOCH, which the
# Makefile sets to the last commit's time; this is the one fallback when it is unset (the same
# as the Makefile's outside a git checkout): 2023-11-14 22:13:20 UTC.
FALLBACK_SOURCE_DATE_EPOCH = 1700000000


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH, else :data:`FALLBACK_SOURCE_DATE_EPOCH`."""
    return int(os.environ.get("SOURCE_DATE_EPOCH", FALLBACK_SOURCE_DATE_EPOCH))
