"""parentlink: the pipeline for the 'Parental social licence for data linkage' study.

One module per stage: synth (synthetic study), ingest, clean, weight, estimate, disclosure,
documents, charts, render. Errors that a user can cause raise :class:`parentlink.errors.UserError`.
"""

__version__ = "0.1.0"
