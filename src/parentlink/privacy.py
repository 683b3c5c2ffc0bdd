"""Privacy at the boundary: pseudonymous keys and redaction of open text.

Applied by the ingest stage, before anything is written under results/, so that no direct
identifier or unredacted free text is ever on disk outside raw/.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from functools import lru_cache
from importlib import resources

import pandas as pd

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"\b(?:https?|ftp|file)://\S+|\bwww\.\S+", re.IGNORECASE)
# UK numbers: +44 or 0, then 9-10 more digits in groups (mobiles 07..., landlines 01/02/03...).
PHONE = re.compile(r"(?:\+44\s?\(?0?\)?\s?|\b0)\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}\b")
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?")
NAME_IS = re.compile(r"\b((?:my|his|her|their) name is|I am called|I'm called)\s+[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?", re.IGNORECASE)


@lru_cache(maxsize=1)
def _first_name_pattern() -> re.Pattern[str]:
    text = resources.files("parentlink").joinpath("data/first_names.txt").read_text("utf-8")
    names = sorted({w for line in text.splitlines() if not line.startswith("#") for w in line.split()})
    # A known first name, optionally followed by a capitalised surname.
    return re.compile(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b(?:\s+[A-Z][a-z'-]+)?")


def pseudonym(identifier: str, key: str) -> str:
    """Stable pseudonym: keyed HMAC-SHA256, so ids cannot be recovered without the key."""
    digest = hmac.new(key.encode("utf-8"), identifier.encode("utf-8"), hashlib.sha256).hexdigest()
    return "R" + digest[:16]


def redact(text: str, max_chars: int) -> str:
    """Replace e-mails, URLs, phone numbers, postcodes and personal names; cap the length."""
    if not text:
        return ""
    out = EMAIL.sub("[email]", text)
    out = URL.sub("[link]", out)
    out = PHONE.sub("[phone]", out)
    out = POSTCODE.sub("[postcode]", out)
    out = NAME_IS.sub(lambda m: m.group(1) + " [name]", out)
    out = TITLED.sub("[name]", out)
    out = _first_name_pattern().sub("[name]", out)
    out = " ".join(out.split())
    if len(out) > max_chars:
        out = out[: max_chars - 1].rstrip() + "…"
    return out


def redact_series(values: pd.Series, max_chars: int) -> pd.Series:
    return values.fillna("").astype(str).map(lambda t: redact(t, max_chars))


def pseudonymise_series(values: pd.Series, key: str) -> pd.Series:
    return values.astype(str).str.strip().map(lambda v: pseudonym(v, key))


def pseudonym_key(privacy: dict[str, str]) -> str:
    """The pseudonym key: from the environment variable named in config, else the config fallback."""
    return os.environ.get(privacy["pseudonym_key_env"]) or privacy["fallback_pseudonym_key"]
