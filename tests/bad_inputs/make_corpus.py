"""Write the bad-input corpus: one small file per failure the pipeline must report clearly.

Run from the project root: `python tests/bad_inputs/make_corpus.py`. Each file is a damaged copy of
the synthetic pilot (raw/pilot_survey.sav), so the corpus stays small and its damage is known.
"""

from __future__ import annotations

from pathlib import Path

import pyreadstat

HERE = Path(__file__).resolve().parent
PILOT = HERE.parents[1] / "raw/pilot_survey.sav"


def _write(df, meta, name: str, drop: str | None = None) -> None:  # type: ignore[no-untyped-def]
    cols = [c for c in df.columns if c != drop]
    pyreadstat.write_sav(
        df[cols], str(HERE / name),
        column_labels={c: meta.column_names_to_labels[c] for c in cols},
        variable_value_labels={c: v for c, v in meta.variable_value_labels.items() if c in cols},
        missing_ranges={c: v for c, v in meta.missing_ranges.items() if c in cols},
    )  # fmt: skip


def main() -> None:
    data = PILOT.read_bytes()
    (HERE / "empty.sav").write_bytes(b"")
    (HERE / "not_spss.sav").write_text("respondent,answer\n1,yes\n")
    (HERE / "truncated.sav").write_bytes(data[: len(data) // 3])
    (HERE / "wrong_type.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    df, meta = pyreadstat.read_sav(str(PILOT), user_missing=True)
    bad = df.copy()
    bad.loc[bad.index[:3], "P4_1"] = 7
    _write(bad, meta, "unknown_code.sav")
    dup = df.copy()
    dup.loc[dup.index[1], "resp_id"] = dup.loc[dup.index[0], "resp_id"]
    _write(dup, meta, "duplicate_id.sav")
    _write(df, meta, "missing_variable.sav", drop="P4_1")


if __name__ == "__main__":
    main()
