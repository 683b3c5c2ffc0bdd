"""The weights file ``results/weights/<survey>_weights.csv``: its readers.

Apart from the estimators so that a job that only needs the weights (the quotes, the SPSS export)
does not import SciPy (about half a second of each such job's start-up).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from parentlink import csvio
from parentlink.errors import fail


def read_weights(path: str | Path) -> pd.DataFrame:
    """results/weights/<survey>_weights.csv by respondent_id: final_weight and, when present,
    design_weight and calibration_weight (all checked finite and >= 0)."""
    w, final = _read_checked(path)
    out = pd.DataFrame({"final_weight": final})
    w = w.set_index("respondent_id")
    for col in ("design_weight", "calibration_weight"):
        if col in w.columns:
            v = pd.to_numeric(w[col], errors="coerce")
            if not (v.notna() & np.isfinite(v) & (v >= 0)).all():
                fail(f"{path}: {col} must be a number >= 0 for every respondent; rebuild the "
                     f"weights.")
            out[col] = v.loc[out.index].to_numpy(float)
    return out


def read_final_weights(path: str | Path) -> pd.Series:
    """final_weight by respondent_id from results/weights/<survey>_weights.csv, checked: ids
    unique, weights finite and >= 0."""
    return _read_checked(path)[1]


def _read_checked(path: str | Path) -> tuple[pd.DataFrame, pd.Series]:
    """The weights file, read once, and its checked final_weight by respondent_id."""
    path = Path(path)
    if not path.is_file():
        fail(f"{path}: weights not found; run the 'weight' rule first.")
    w = csvio.read_csv(path, dtype={"respondent_id": str})
    if not {"respondent_id", "final_weight"} <= set(w.columns):
        fail(f"{path}: needs columns respondent_id and final_weight; see docs/data-contract.md.")
    if w["respondent_id"].duplicated().any():
        fail(f"{path}: respondent_id '{w.loc[w['respondent_id'].duplicated(), 'respondent_id'].iloc[0]}'"
             f" appears twice; rebuild the weights with the 'weight' rule.")
    weight = pd.to_numeric(w["final_weight"], errors="coerce")
    if not (weight.notna() & (weight >= 0) & np.isfinite(weight)).all():
        fail(f"{path}: final_weight must be a number >= 0 for every respondent; rebuild the weights.")
    return w, pd.Series(weight.to_numpy(), index=w["respondent_id"])
