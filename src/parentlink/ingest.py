"""Ingest: read what the survey agency delivered, once, keeping its metadata; apply privacy.

Supported deliveries: SPSS `.sav` / `.zsav` / `.por`, Stata `.dta` (pyreadstat), and `.csv` with a
metadata sidecar `<file>.meta.json` in the same shape as the ingest metadata written here (its
column types obeyed). Value labels, variable labels, user-missing codes and ranges (kept distinct:
8 don't know is not 9 prefer not to say is not -1 not asked), measurement levels, formats and
display widths are kept; dates and times are converted by their formats (parentlink.temporal).
What the plan adds to reading — a code page, Stata .a-.z codes — is in docs/deliveries.md.

Privacy happens here, at the boundary, so no direct identifier or raw open text reaches results/:
the agency id becomes a keyed pseudonym `respondent_id`, listed identifiers are dropped and open
text is redacted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat

from parentlink import portable, temporal
from parentlink.errors import UserError
from parentlink.plan import resolve_names
from parentlink.privacy import pseudonymise_series, redact_series

SAV_MAGIC = (b"$FL2", b"$FL3")
SUPPORTED = (".sav", ".zsav", ".por", ".dta", ".csv")
LOWEST_HIGHEST = 1e300  # |x| at or above this in a missing range is SPSS's LO or HI


def sha256(path: str | Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def check_file(p: Path) -> None:
    """The delivery exists, has a type the pipeline reads, is not empty, and looks like one."""
    if not p.is_file():
        raise UserError(
            f"Raw file {p} does not exist: put the agency's delivery there or fix surveys.*.raw in "
            "config/config.yaml."
        )
    if p.suffix.lower() not in SUPPORTED:
        raise UserError(
            f"Raw file {p} has type '{p.suffix}', which the pipeline cannot read: deliver one of "
            f"{', '.join(SUPPORTED)}."
        )
    if p.stat().st_size == 0:
        raise UserError(f"Raw file {p} is empty (0 bytes): ask the agency to re-send it.")
    if p.suffix.lower() in (".sav", ".zsav"):
        with open(p, "rb") as fh:
            magic = fh.read(4)
        if magic not in SAV_MAGIC:
            raise UserError(
                f"Raw file {p} is not an SPSS data file (it does not start with '$FL2'): check that "
                "the right file was delivered and not renamed."
            )


MAX_LABEL_CHARS = 300  # longest variable or value label kept; longer ones are cut with "…"
# Control characters (C0 but the ones turned into spaces, DEL, C1) and invisible format characters.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\u200b-\u200f\u202a-\u202e"
                      "\u2060-\u206f\ufeff\ufff9-\ufffb]")
_BREAKS = re.compile("\r\n|[\t\n\r\x85\u2028\u2029]")


def clean_label(text: Any, where: str) -> str:
    """A label as documents, charts and workbooks can print it: NFC, no control or invisible
    characters (a tab or line break becomes one space), at most MAX_LABEL_CHARS; anything else,
    spaces included, is kept as delivered. Each change is logged (one line naming `where`)."""
    raw = "" if text is None else str(text)
    out = _CONTROL.sub("", _BREAKS.sub(" ", unicodedata.normalize("NFC", raw)))
    if _CONTROL.search(raw) or _BREAKS.search(raw):
        logging.warning("%s: control or invisible characters removed from the label", where)
    if len(out) > MAX_LABEL_CHARS:
        logging.warning("%s: label of %d characters cut to %d", where, len(out), MAX_LABEL_CHARS)
        out = out[: MAX_LABEL_CHARS - 1] + "…"
    return out


def clean_labels(variables: dict[str, dict[str, Any]], source: str) -> dict[str, dict[str, Any]]:
    """clean_label for every variable and value label of a delivery's metadata."""
    for name, v in variables.items():
        v["label"] = clean_label(v.get("label"), f"{source}: variable {name}")
        v["value_labels"] = {k: clean_label(lab, f"{source}: variable {name}, value {k}")
                             for k, lab in (v.get("value_labels") or {}).items()}
    return variables


def _bound(x: Any) -> float | None:
    """A user-missing range end as JSON can hold it: SPSS's LO/HI (infinite or the largest double) is
    null, never the non-standard -Infinity token."""
    f = float(x)
    return None if not math.isfinite(f) or abs(f) >= LOWEST_HIGHEST else f


def _variables_from_meta(meta: Any, kinds: dict[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    ranges = getattr(meta, "missing_ranges", {}) or {}
    user_vals = getattr(meta, "missing_user_values", {}) or {}
    widths = getattr(meta, "variable_display_width", {}) or {}
    for col, label in zip(meta.column_names, meta.column_labels, strict=True):
        codes: list[float] = []
        spans: list[list[float | None]] = []
        strings: list[str] = []  # user-missing values of a string variable
        for r in ranges.get(col, []):
            if isinstance(r["lo"], str) or isinstance(r["hi"], str):
                strings += sorted({str(r["lo"]), str(r["hi"])})
            elif r["lo"] == r["hi"]:
                codes.append(float(r["lo"]))
            else:
                spans.append([_bound(r["lo"]), _bound(r["hi"])])
        codes += [float(v) for v in user_vals.get(col, []) if isinstance(v, int | float)]
        strings += [v for v in user_vals.get(col, []) if isinstance(v, str)]
        out[col] = {
            "label": label or "",
            "value_labels": {_code_key(k): v for k, v in (meta.variable_value_labels.get(col) or {}).items()},
            "missing_codes": sorted(set(codes)),
            "missing_ranges": spans,
            **({"missing_strings": sorted(set(strings))} if strings else {}),
            "measure": (meta.variable_measure or {}).get(col, "unknown"),
            "format": (meta.original_variable_types or {}).get(col, ""),
            **({"display_width": int(widths[col])} if widths.get(col) else {}),
            "type": kinds[col],
        }
    return out


def _code_key(value: Any) -> str:
    """A value label's code as a JSON key: '1', '-1', '1.5'; a string variable's code as itself."""
    if isinstance(value, str):
        return value
    f = float(value)
    return str(int(f)) if f.is_integer() else repr(f)


def _kind(s: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(s):
        return "duration"
    if pd.api.types.is_numeric_dtype(s):
        return "numeric"
    return "text"


def _open_error(p: Path, err: Exception, encoding: str | None) -> UserError:
    detail = str(err).strip() or err.__class__.__name__
    if encoding or "encod" in detail.lower() or "iconv" in detail.lower():
        return UserError(
            f"Raw file {p} could not be read with encoding {encoding or 'from its header'} ({detail}): "
            "set the plan's 'encoding' to the code page the text was written in (e.g. cp1252, utf-8)."
        )
    return UserError(
        f"Raw file {p} could not be read ({detail}): it looks truncated or corrupt; ask the agency to "
        "re-send it."
    )


def _stata_extended_missing(df: pd.DataFrame, variables: dict[str, dict[str, Any]], p: Path,
                            codes: dict[str, int]) -> None:
    """Stata's .a-.z in a numeric variable: a letter the plan maps ('stata_missing: {a: -97}') becomes
    that code, declared user-missing; an unmapped letter with a value label stops the run (its meaning
    would be lost); an unmapped unlabelled one becomes system-missing, logged."""
    for col, v in variables.items():
        if re.fullmatch(r"%-?[0-9]*s|%strl?", str(v.get("format", "")).lower()):
            continue  # a string variable (%9s, %-20s, %strL)
        s = df[col]
        if pd.api.types.is_numeric_dtype(s):
            continue
        letters = s.map(lambda x: isinstance(x, str) and len(x) == 1 and x.isalpha())
        rest = pd.to_numeric(s.where(~letters), errors="coerce")
        if (rest.isna() & s.notna() & ~letters).any():
            continue  # really text
        for letter in sorted(set(s[letters])):
            n = int((s == letter).sum())
            if letter in codes:
                rest[s == letter] = float(codes[letter])
                v["missing_codes"] = sorted({*v["missing_codes"], float(codes[letter])})
                if letter in v["value_labels"]:
                    v["value_labels"][_code_key(codes[letter])] = v["value_labels"][letter]
            elif letter in v["value_labels"]:
                raise UserError(
                    f"{p.name}: variable {col} has Stata missing value .{letter} "
                    f"('{v['value_labels'][letter]}') in {n} row(s): map it to a code with the plan's "
                    f"'stata_missing: {{{letter}: CODE}}' and give CODE a meaning under 'missing'."
                )
            else:
                logging.warning("%s: variable %s: %d unlabelled Stata missing value(s) .%s read as "
                                "system-missing", p.name, col, n, letter)
        v["value_labels"] = {k: lab for k, lab in v["value_labels"].items() if not k.isalpha()}
        v.pop("missing_strings", None)
        df[col] = rest.astype(float)
        v["type"] = "numeric"


def _convert_temporal(df: pd.DataFrame, variables: dict[str, dict[str, Any]], p: Path, stata: bool,
                      skip: set[str]) -> None:
    """Date, time and duration variables from their stored numbers (parentlink.temporal)."""
    for col, v in variables.items():
        kind = temporal.kind_of_format(v["format"], stata)
        if kind is None or col.lower() in skip or not pd.api.types.is_numeric_dtype(df[col]):
            continue
        try:
            df[col] = temporal.convert(df[col], v["format"], stata)
        except temporal.TemporalError as err:
            raise UserError(
                f"{p.name}: variable {col} ({v['format']}): {err}: ask the agency to correct them, or "
                "list the variable under the plan's 'drop'."
            ) from None
        v["type"] = kind


def _check_portable(p: Path, options: dict[str, Any]) -> None:
    """What pyreadstat cannot read of a portable file stops the run before anything is lost:
    user-missing declarations (read as system-missing) and a code page (none can be set)."""
    if options.get("encoding"):
        raise UserError(
            f"{p.name}: a portable (.por) file's code page cannot be set, so the plan's 'encoding' "
            f"cannot apply: ask the agency for the .sav, or remove 'encoding' from the plan."
        )
    try:
        declared = portable.missing_declared(p)
    except (portable.PortableError, OSError) as err:
        raise UserError(
            f"Raw file {p}: its portable-file dictionary could not be read ({err}), so its missing "
            "values cannot be checked: ask the agency for the .sav, or to re-send the file."
        ) from None
    if declared:
        names = sorted(declared)
        shown = ", ".join(names[:5]) + (" …" if len(names) > 5 else "")
        raise UserError(
            f"{p.name}: variable(s) {shown} declare user-missing values, which are read from a portable "
            "file as system-missing, losing what each means: ask the agency for the .sav, or convert "
            f"the file with 'pspp-convert {p.name} {p.stem}.sav' and deliver that."
        )


def _undecoded(df: pd.DataFrame, variables: dict[str, dict[str, Any]], p: Path) -> None:
    """A portable file's text that could not be decoded (U+FFFD) stops the run naming the variable."""
    for col, v in variables.items():
        texts = [v["label"], *map(str, v["value_labels"].values())]
        if v["type"] == "text":
            texts += [t for t in df[col].dropna().unique() if isinstance(t, str)]
        bad = next((t for t in texts if "\ufffd" in t), None)
        if bad is not None:
            raise UserError(
                f"{p.name}: variable {col} holds characters a portable file cannot carry (read as "
                f"'{bad[:40]}'): ask the agency for the .sav, which keeps its code page."
            )


def _reader(p: Path) -> Callable[..., tuple[pd.DataFrame, Any]]:
    readers: dict[str, Callable[..., tuple[pd.DataFrame, Any]]] = {
        ".dta": pyreadstat.read_dta, ".por": pyreadstat.read_por}
    return readers.get(p.suffix.lower(), pyreadstat.read_sav)


def _read_spss_or_stata(p: Path, options: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any], str]:
    suffix = p.suffix.lower()
    reader = _reader(p)
    kwargs: dict[str, Any] = {"disable_datetime_conversion": True}
    if suffix == ".por":
        _check_portable(p, options)
    else:  # pyreadstat's portable reader has no user_missing: _check_portable refuses what needs it
        kwargs["user_missing"] = True
    if options.get("encoding"):
        kwargs["encoding"] = options["encoding"]
    try:
        df, meta = reader(str(p), **kwargs)
    except Exception as err:  # pyreadstat raises its own error types for corrupt files
        raise _open_error(p, err, options.get("encoding")) from None
    if len(df) == 0:
        raise UserError(f"Raw file {p} has no records: ask the agency to re-send it.")
    variables = _variables_from_meta(meta, {c: _kind(df[c]) for c in df.columns})
    if suffix == ".por":
        _undecoded(df, variables, p)
    if suffix == ".dta":
        _stata_extended_missing(df, variables, p, options.get("stata_missing", {}))
    _convert_temporal(df, variables, p, suffix == ".dta", {d.lower() for d in options.get("drop", [])})
    return df, variables, meta.file_label or ""


def _read_csv(p: Path) -> tuple[pd.DataFrame, dict[str, Any], str]:
    sidecar = p.with_name(p.name + ".meta.json")
    if not sidecar.is_file():
        raise UserError(
            f"CSV delivery {p} needs its metadata sidecar {sidecar} (labels and missing codes): write "
            "it in the shape of results/ingest/<survey>_meta.json."
        )
    try:
        meta = json.loads(sidecar.read_text("utf-8"))
        # The sidecar's types are obeyed: a 'text' column ("00123") is never read as a number.
        text = [c for c, v in meta.get("variables", {}).items() if v.get("type") == "text"]
        df = pd.read_csv(p, keep_default_na=False, na_values=[""], dtype=dict.fromkeys(text, str))
    except (ValueError, pd.errors.ParserError) as err:
        raise UserError(
            f"CSV delivery {p} or its sidecar could not be parsed ({err}): fix the file."
        ) from None
    variables = meta.get("variables", {})
    missing = sorted(set(df.columns) - set(variables))
    if missing:
        raise UserError(
            f"CSV sidecar {sidecar} does not describe column(s) {', '.join(missing)}: add them under "
            "'variables'."
        )
    for col, v in variables.items():
        if v.get("type") == "datetime" and col in df:
            df[col] = pd.to_datetime(df[col])
    return df, variables, meta.get("file_label", "")


def _parse_string_timestamps(df: pd.DataFrame, variables: dict[str, dict[str, Any]],
                             plan: dict[str, Any], source: str) -> None:
    """A 'timestamps' variable delivered as text ("2021-03-06 21:04:33") becomes a date-time if every
    value is an ISO 8601 date-time; otherwise one error names the first value that is not."""
    lower = {c.lower(): c for c in df.columns}
    stamps = plan.get("timestamps") or {}
    for role, name in ((r, stamps[r]) for r in ("start", "end") if r in stamps):
        col = name if name in df.columns else lower.get(name.lower())
        if col is None or _kind(df[col]) != "text":
            continue
        text = df[col].astype("string").str.strip().replace("", pd.NA)
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        bad = text.notna() & parsed.isna()
        if bad.any():
            raise UserError(
                f"{source}: timestamps/{role} variable {col} is text, and {int(bad.sum())} value(s) such "
                f"as '{text[bad].iloc[0]}' are not ISO 8601 date-times (YYYY-MM-DD hh:mm:ss): ask the "
                "agency for a DATETIME variable or ISO 8601 text."
            )
        # A time-zone offset is converted to UTC; text without one is taken as it stands.
        df[col] = parsed.dt.tz_localize(None).astype("datetime64[us]")
        variables[col]["type"] = "datetime"


def codes_from_labels(df: pd.DataFrame, variables: dict[str, dict[str, Any]], plan: dict[str, Any],
                       source: str) -> None:
    """A labelled string variable the plan lists under 'codes_from_labels' becomes a coded one.

    Its labelled values take the codes 1, 2, ... in the order of the value labels in the file
    ("m" Male -> 1, "f" Female -> 2 when "m" is labelled first), then string user-missing values
    without a label, which are labelled by themselves. Each string the file declares user-missing
    is a user-missing code that keeps its label ("x" No answer -> 3; its meaning, as for any code,
    from the plan).
    An empty string is system-missing. The mapping is kept in the metadata ('string_codes'). A
    value that is neither labelled nor declared missing stops the run: nothing is guessed.
    """
    lower = {c.lower(): c for c in df.columns}
    for name in plan.get("codes_from_labels", []):
        col = name if name in df.columns else lower.get(name.lower())
        if col is None:
            raise UserError(f"Cleaning plan key 'codes_from_labels' names {name}, which {source} does "
                            "not contain: fix the plan or check the delivery.")
        v = variables[col]
        if v["type"] != "text":
            raise UserError(f"{source}: variable {col} is {v['type']}, not a string variable: take it "
                            "out of the plan's 'codes_from_labels' (numeric codes are read as they are).")
        # SPSS pads strings to their width: values, labels and missing values compare unpadded.
        labels = {str(k).rstrip(): lab for k, lab in v["value_labels"].items() if str(k).rstrip()}
        missing = [str(m).rstrip() for m in v.get("missing_strings", [])]
        order = dict.fromkeys([*labels, *(m for m in missing if m and m not in labels)])
        codes = {value: i + 1 for i, value in enumerate(order)}
        text = df[col].astype("string").str.rstrip()
        unknown = sorted(set(text.dropna()) - set(codes) - {""})
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:5])
            raise UserError(
                f"{source}: string variable {col} (under 'codes_from_labels') has value(s) {shown} "
                f"without a value label in {int(text.isin(unknown).sum())} row(s): ask the agency for "
                "their labels, or declare the variable under 'text' instead."
            )
        df[col] = text.map(codes).astype("float64")
        v["missing_codes"] = sorted(float(codes[m]) for m in missing if m in codes)
        v["value_labels"] = {str(codes[k]): labels.get(k, k) for k in codes}
        v["string_codes"] = codes
        v.pop("missing_strings", None)
        v.pop("display_width", None)  # the string's width and format do not fit its codes
        v["format"] = f"F{len(str(len(codes)))}.0"
        v["type"] = "numeric"


def read_raw(path: str | Path, plan: dict[str, Any] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read one delivered file: data with codes as numbers (user-missing kept) and its metadata.

    From the cleaning plan, if given, reading uses 'encoding' (a code page that overrides a wrong
    one in the file), 'stata_missing' (Stata .a-.z -> codes), 'codes_from_labels' (labelled string
    variables -> codes) and 'drop' (date variables that are dropped are not converted, so a
    corrupt one cannot stop the run).
    """
    p = Path(path)
    check_file(p)
    # The checksum is taken while the file is read: hashing releases the GIL, so on a large file
    # it costs no wall time beside the reader.
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(sha256, p)
        if p.suffix.lower() == ".csv":
            df, variables, file_label = _read_csv(p)
        else:
            df, variables, file_label = _read_spss_or_stata(p, plan or {})
        checksum = digest.result()
    codes_from_labels(df, variables, plan or {}, p.name)
    _parse_string_timestamps(df, variables, plan or {}, p.name)
    variables = clean_labels(variables, p.name)
    meta = {
        "file": p.name,
        "sha256": checksum,
        "file_label": clean_label(file_label, f"{p.name}: file label"),
        "n_rows": len(df),
        "variables": variables,
    }
    return df, meta


def _kind_from_format(readstat_type: str, fmt: str, stata: bool) -> str:
    """A variable's type from its header alone: 'text', 'datetime', 'duration' or 'numeric'."""
    if readstat_type == "string":
        return "text"
    return temporal.kind_of_format(fmt, stata) or "numeric"


def read_metadata(path: str | Path, plan: dict[str, Any] | None = None) -> dict[str, Any]:
    """A delivery's metadata without its data, in the shape read_raw gives: names, labels, value
    labels, user-missing codes and ranges, formats, measures and types (from the header: a date
    format is a date-time, a string variable text). For the pre-flight config check and any
    lookup of labels; pyreadstat's metadata-only read, so a large file costs what its header
    costs. Not given: 'sha256', and what only the data can show (codes of the data inside a
    range, Stata .a-.z letters, string timestamps). A CSV's is its sidecar's."""
    p = Path(path)
    check_file(p)
    if p.suffix.lower() == ".csv":
        sidecar = p.with_name(p.name + ".meta.json")
        if not sidecar.is_file():
            raise UserError(f"CSV delivery {p} needs its metadata sidecar {sidecar} (labels and missing "
                            "codes): write it in the shape of results/ingest/<survey>_meta.json.")
        try:
            side = json.loads(sidecar.read_text("utf-8"))
        except ValueError as err:
            raise UserError(f"CSV sidecar {sidecar} is not valid JSON ({err}): fix it.") from None
        variables, file_label, n_rows = side.get("variables", {}), side.get("file_label", ""), None
    else:
        options = plan or {}
        kwargs: dict[str, Any] = {"metadataonly": True, "output_format": "dict"}  # no empty frame built
        if p.suffix.lower() == ".por":
            _check_portable(p, options)
        else:  # without it pyreadstat leaves out the missing declarations
            kwargs["user_missing"] = True
        if options.get("encoding"):
            kwargs["encoding"] = options["encoding"]
        try:
            _, meta = _reader(p)(str(p), **kwargs)
        except Exception as err:  # pyreadstat raises its own error types for corrupt files
            raise _open_error(p, err, options.get("encoding")) from None
        stata = p.suffix.lower() == ".dta"
        types = meta.readstat_variable_types or {}
        formats = meta.original_variable_types or {}
        variables = _variables_from_meta(meta, {
            c: _kind_from_format(types.get(c, ""), formats.get(c, ""), stata) for c in meta.column_names})
        file_label, n_rows = meta.file_label or "", meta.number_rows
    return {"file": p.name, "file_label": clean_label(file_label, f"{p.name}: file label"),
            "n_rows": n_rows, "variables": clean_labels(variables, p.name)}


def _require(df: pd.DataFrame, names: list[str], key: str, path: str) -> None:
    absent = [n for n in names if n not in df.columns]
    if absent:
        raise UserError(
            f"Cleaning plan key '{key}' names {', '.join(absent)}, which {path} does not contain: fix "
            "the plan or check the delivery."
        )


def _undeclared_text(df: pd.DataFrame, meta: dict[str, Any], plan: dict[str, Any]) -> pd.DataFrame:
    """Default deny for free text: a string column the plan neither redacts ('text') nor drops
    ('drop') stops the run, or with ``undeclared_text: drop`` is dropped and logged."""
    declared = set(plan.get("text", {}))
    # The column's own type counts, whatever a sidecar declares it to be.
    free = [c for c in df.columns if c not in declared
            and (_kind(df[c]) == "text" or meta["variables"].get(c, {}).get("type") == "text")
            and df[c].astype("string").fillna("").str.strip().ne("").any()]
    if not free:
        return df
    if plan.get("undeclared_text", "error") == "drop":
        for c in free:
            logging.warning("%s: free-text variable %s is not declared in the plan: dropped "
                            "(undeclared_text: drop)", meta["file"], c)
            meta["variables"].pop(c, None)
        return df.drop(columns=free)
    shown = ", ".join(free[:5]) + (" …" if len(free) > 5 else "")
    labelled = [c for c in free if meta["variables"].get(c, {}).get("value_labels")]
    note = (f" ({', '.join(labelled[:3])} {'is a' if len(labelled) == 1 else 'are'} string "
            "variable(s) with value labels: list it under 'codes_from_labels' to analyse its codes)"
            if labelled else "")
    raise UserError(
        f"{meta['file']}: variable(s) {shown} hold free text that the cleaning plan does not "
        f"declare{note}: list each under 'text' (redacted) or 'drop', or set "
        "'undeclared_text: drop'."
    )


def canonical_ids(ids: pd.Series, plan: dict[str, Any], source: str) -> pd.Series:
    """One text form per agency id, pseudonymised afterwards (docs/data-contract.md, "Ids").

    A numeric id is its whole number without a decimal point (1.0 -> "1"); a non-whole number
    is refused. A string id is stripped of surrounding blanks and NFC-normalised, and its leading
    zeros are kept ("00123" is not "123") unless the plan says ``id_leading_zeros: strip``, when
    an all-digit id loses them ("0000000001" -> "1", the same as a numeric 1).
    """
    name = plan["id"]
    if pd.api.types.is_numeric_dtype(ids):
        x = ids.astype(float)
        frac = x.notna() & (x != x.round())
        if frac.any():
            raise UserError(
                f"{source}: id variable '{name}' has {int(frac.sum())} value(s) that are not whole "
                f"numbers (e.g. {x[frac].iloc[0]!r}): ask the agency for the true ids."
            )
        return x.map(lambda v: "" if pd.isna(v) else str(int(v))).astype(object)
    # Vectorised string methods: a million ids take a fraction of a second.
    out = ids.astype("string").str.normalize("NFC").str.strip().fillna("").astype(object)
    if plan.get("id_leading_zeros", "keep") == "strip":
        digits = out.str.fullmatch(r"[0-9]+").fillna(False).astype(bool)
        out[digits] = out[digits].str.lstrip("0").replace("", "0")
    return out


def apply_privacy(
    df: pd.DataFrame, meta: dict[str, Any], plan: dict[str, Any], key: str, max_chars: int
) -> pd.DataFrame:
    """Pseudonymise the id, drop direct identifiers, redact open text (in place of the originals)."""
    src = meta["file"]
    plan = resolve_names(plan, df.columns, src)
    _require(df, [plan["id"]], "id", src)
    _require(df, list(plan.get("drop", [])), "drop", src)
    _require(df, list(plan.get("text", {})), "text", src)
    ids = canonical_ids(df[plan["id"]], plan, src)
    if (ids == "").any():
        n = int((ids == "").sum())
        raise UserError(
            f"{src}: id variable '{plan['id']}' is empty in {n} row(s): every record needs the agency's id."
        )
    out = df.drop(columns=[plan["id"], *plan.get("drop", [])])
    out = _undeclared_text(out, meta, plan)
    pseudo = pseudonymise_series(ids, key)
    if pseudo.duplicated().sum() != ids.duplicated().sum():
        raise UserError(
            f"{src}: two different ids received the same pseudonym: change the pseudonym key ({plan['id']})."
        )
    out.insert(0, "respondent_id", pseudo)
    for agency, _ in plan.get("text", {}).items():
        out[agency] = redact_series(out[agency], max_chars)
    for gone in [plan["id"], *plan.get("drop", [])]:
        meta["variables"].pop(gone, None)
    meta["variables"]["respondent_id"] = {
        "label": f"Respondent pseudonym (keyed SipHash of {plan['id']})",
        "value_labels": {},
        "missing_codes": [],
        "missing_ranges": [],
        "measure": "nominal",
        "format": "A17",
        "type": "text",
    }
    return out


def text_apart(df: pd.DataFrame, meta: dict[str, Any], keep: bool = False
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the ingested data without its open text, respondent_id and the open text).

    Redacted text is still personal data (docs/privacy.md), so the ingest parquet, a row-level
    output that outlives the build, does not carry it: the text goes to a temporary file that only
    the clean stage reads (:func:`rejoin_text`), and its one lasting copy is
    results/clean/{survey}_text.parquet. With `keep` (the plan's ``text_in_clean: true``, for a
    restricted-access deposit) the ingest parquet keeps it too."""
    names = [n for n, v in meta["variables"].items()
             if v.get("type") == "text" and n != "respondent_id" and n in df.columns]
    text = df[["respondent_id", *names]].copy()
    return (df if keep else df.drop(columns=names)), text


def rejoin_text(df: pd.DataFrame, text: pd.DataFrame) -> pd.DataFrame:
    """The ingested data with the open text that :func:`text_apart` set apart (same rows)."""
    extra = [c for c in text.columns if c not in df.columns]
    if not extra:
        return df
    if not df["respondent_id"].reset_index(drop=True).equals(
            text["respondent_id"].reset_index(drop=True)):
        raise UserError("The ingested data and their open text are from different ingest runs: "
                        "delete results/ingest/ and build again.")
    out = df.reset_index(drop=True).copy()
    for c in extra:
        out[c] = text[c].to_numpy()
    return out


def write_ingested(
    df: pd.DataFrame, meta: dict[str, Any], parquet: str | Path, meta_path: str | Path
) -> None:
    df.to_parquet(parquet, index=False)
    Path(meta_path).write_text(json.dumps(meta, indent=1, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
