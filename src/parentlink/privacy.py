"""Privacy at the boundary: pseudonymous keys and redaction of open text.

Applied by the ingest stage, before anything is written under results/, so that no direct
identifier or unredacted free text is ever on disk outside raw/.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from parentlink.errors import UserError

# The lookbehind lets a match start only where a run of address characters starts: without it a
# long run with no "@" is rescanned from every position (a 100 kB answer took 37 s).
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"\b(?:https?|ftp|file)://\S+|\bwww\.\S+", re.IGNORECASE)
# UK numbers: +44 or 0, then 9-10 more digits in groups (mobiles 07..., landlines 01/02/03...).
PHONE = re.compile(r"(?:\+44\s?\(?0?\)?\s?|\b0)\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}\b")
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?")
NAME_IS = re.compile(
    r"\b((?:my|his|her|their) name is|I am called|I'm called)\s+[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?",
    re.IGNORECASE,
)


CAPITALISED = re.compile(r"\b[A-Z][a-z'-]+\b")
AFTER_NAME = re.compile(r"\[name\](?:\s+[A-Z][a-z'-]+\b)+")


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    text = resources.files("parentlink").joinpath("data/first_names.txt").read_text("utf-8")
    return frozenset(w for line in text.splitlines() if not line.startswith("#") for w in line.split())


def _names(text: str) -> str:
    """A known first name, and any capitalised words right after it (surnames), become [name]."""
    names = first_names()
    out = CAPITALISED.sub(lambda m: "[name]" if m.group(0) in names else m.group(0), text)
    return AFTER_NAME.sub("[name]", out) if "[name]" in out else out


def pseudonym(identifier: str, key: str) -> str:
    """The pseudonym of one id (same as :func:`pseudonymise_series`)."""
    return str(pseudonymise_series(pd.Series([identifier]), key).iloc[0])


def redact(text: str, max_chars: int) -> str:
    """Replace e-mails, URLs, phone numbers, postcodes and personal names; cap the length.

    The whole answer is redacted before it is capped, so nothing is cut in half before its
    pattern can see it; every pattern runs in linear time (a 100 kB answer takes milliseconds).
    """
    if not text:
        return ""
    out = text
    while "@" in out:  # "a@b.org+c@d.org": the second address is seen once the first is marked
        marked = EMAIL.sub("[email]", out)
        if marked == out:
            break
        out = marked
    out = URL.sub("[link]", out)
    out = PHONE.sub("[phone]", out)
    out = POSTCODE.sub("[postcode]", out)
    out = NAME_IS.sub(lambda m: m.group(1) + " [name]", out)
    out = TITLED.sub("[name]", out)
    out = _names(out)
    out = " ".join(out.split())
    if len(out) > max_chars:
        out = out[: max_chars - 1].rstrip() + "…"
    return out


def redact_series(values: pd.Series, max_chars: int) -> pd.Series:
    """Redact each distinct answer once (blank and repeated answers are common in survey text)."""
    text = values.fillna("").astype(str)
    distinct = {t: redact(t, max_chars) for t in text.unique()}
    return text.map(distinct)


def _siphash_key(key: str) -> str:
    """16 characters (96 bits) derived from the configured key, as pandas' SipHash needs."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return "".join(alphabet[b % 64] for b in digest[:16])


def pseudonymise_series(values: pd.Series, key: str) -> pd.Series:
    """Vectorised stable pseudonyms: SipHash-2-4 (a keyed pseudo-random function) of the id.

    SipHash is what pandas uses for hashing with a key; with the key secret, ids cannot be
    recovered or confirmed. 64-bit output: collisions are checked for by the caller.
    """
    ids = values.astype(str).str.strip()
    hashed = pd.util.hash_pandas_object(ids, index=False, hash_key=_siphash_key(key)).to_numpy()
    hexed = np.frombuffer(hashed.astype(">u8").tobytes().hex().encode("ascii"), dtype="S16").astype(str)
    return pd.Series(np.char.add("R", hexed), index=values.index, dtype=object)


def pseudonym_key(privacy: Mapping[str, Any], synthetic: bool = True) -> str:
    """The pseudonym key: from the environment variable named in config. The published fallback
    key in config is used only for a study marked synthetic; real data without the key stop."""
    key = os.environ.get(str(privacy["pseudonym_key_env"]))
    if key:
        return key
    if not synthetic:
        raise UserError(
            f"the environment variable {privacy['pseudonym_key_env']} (privacy.pseudonym_key_env) "
            "is not set, and the published fallback key may only pseudonymise synthetic data: "
            "set it to the study's secret key (keep it out of the repository) and run again.")
    return str(privacy["fallback_pseudonym_key"])
