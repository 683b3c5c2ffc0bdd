"""Privacy at the boundary: pseudonymous keys and redaction of open text.

Applied by the ingest stage, before anything is written under results/, so that no direct
identifier or unredacted free text is ever on disk outside raw/.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from parentlink.errors import UserError

# The lookbehind lets a match start only where a run of address characters starts: without it a
# long run with no "@" is rescanned from every position (a 100 kB answer took 37 s). Spaces or a
# line break around "@" and the dots (an address split over lines) still match.
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+[ \t]*\n?[ \t]*@[ \t]*\n?[ \t]*[\w-]+"
                   r"(?:[ \t]*\n?[ \t]*\.[ \t]*\n?[ \t]*[\w-]+)+")
# Addresses written out: "jo dot smith at example dot co dot uk", "jo(at)example(dot)org",
# "jo [at] example.org". The last part must be a common top-level domain, so "look at the
# council" stays.
_TLDS = r"(?:com|org|net|uk|co|gov|ac|nhs|edu|io|info|me|biz|scot|wales|eu|ie|de|fr)"
_AT = r"(?:\s*[(\[{<]\s*at\s*[)\]}>]\s*|\s+at\s+)"
_DOT = r"(?:\s*[(\[{<]\s*dot\s*[)\]}>]\s*|\s+dot\s+|\s*\.\s*)"
EMAIL_WORDS = re.compile(rf"(?<![\w.+-])[\w.+-]+(?:{_DOT}[\w+-]+)*{_AT}[\w-]+(?:{_DOT}[\w-]+)*"
                         rf"{_DOT}{_TLDS}\b", re.IGNORECASE)
URL = re.compile(r"\b(?:https?|ftp|file)://\S+|\bwww\.\S+", re.IGNORECASE)
# UK numbers: +44 / 0044 (with an optional (0)) or 0, then 9-10 more digits, in groups separated
# by spaces, dots, dashes or brackets: "07700 900123", "+44 (0)20 7946 0958", "0044-20-7946-0958",
# "(020) 7946 0958", "07700.900.123".
_SEP = r"[ \t.\-()/]{0,3}"
PHONE = re.compile(rf"(?<![\w+])(?:(?:\+|00)[ \t]?44{_SEP}(?:\(\s*0\s*\){_SEP})?\d(?:{_SEP}\d){{8,9}}"
                   rf"|\(?\s*0(?:{_SEP}\d){{9,10}})(?!\d)")
# Ten digits in 3-3-4 (or unbroken): an NHS number when its modulus-11 check digit agrees.
NHS = re.compile(r"(?<!\d)(\d{3})[ \t\-]?(\d{3})[ \t\-]?(\d{4})(?!\d)")
# Any other long run of digits (account, reference or unknown numbers).
LONG_NUMBER = re.compile(r"(?<!\d)\d(?:[ \t\-]?\d){7,}(?!\d)")
_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
# A full date (a date of birth is the usual reason to write one): 12/03/2015, 1.3.15,
# 12 March 2015, 1st Jan 2016, March 12, 2015.
DATE = re.compile(rf"(?<!\d)\d{{1,2}}[/.\-]\d{{1,2}}[/.\-](?:\d{{4}}|\d{{2}})(?!\d)"
                  rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}\.?,?\s+\d{{2,4}}\b"
                  rf"|\b{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b", re.IGNORECASE)
# Postcodes, including GIR 0AA and spaced-out forms ("S O 1 7 1 B J").
POSTCODE = re.compile(r"\b(?:GIR\s*0\s*AA|[A-Z]\s?[A-Z]?\s?\d\s?[A-Z\d]?\s*\d\s?[A-Z]\s?[A-Z])\b",
                      re.IGNORECASE)
TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?")
NAME_IS = re.compile(
    r"\b((?:my|his|her|their) name is|I am called|I'm called)\s+[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?",
    re.IGNORECASE,
)
# A name given by context, in any case: "my son jack", "our daughter Amelia-Rose", "called
# kyle", "named ella". The word after the context must not be an ordinary word ("my son is ...").
_KIN = (r"(?:son|daughter|child|kid|boy|girl|baby|toddler|teen|stepson|stepdaughter|grandson|"
        r"granddaughter|husband|wife|partner|ex|brother|sister|nephew|niece|twins?|sons|daughters|"
        r"children)")
_NOT_NAME = frozenset(
    "is was has had and or but who which that when if to at in on of for with from by about as "
    "are were be been being will would can could should may might must do does did not never "
    "also just still now then so very too really always often sometimes a an the my our his her "
    "their its this these those one two three four five six seven eight nine ten some all both "
    "each every any no has's goes went got gets go attends attended lives lived said says told "
    "needs needed wants wanted has been i me we they he she it you".split())
CONTEXT_NAME = re.compile(
    rf"\b((?:my|our|his|her|their|your)\s+(?:\w+\s+)?{_KIN}(?!['’]s)(?:\s+(?:is\s+)?(?:called|named))?"
    rf"|(?:called|named|name's|name is))[ \t]+([A-Za-z][A-Za-z'’\-]+)(?:[ \t]+([A-Za-z][A-Za-z'’\-]+))?",
    re.IGNORECASE)
# A named institution: "holy cross school", "St Mary's primary", "oakfield academy".
_GENERIC = frozenset(
    "the a an my our his her their your this that local primary secondary high junior infant "
    "infants new old special private state grammar boarding nursery village same other "
    "previous current first last next catholic church faith free independent big small good bad "
    "public day sunday his her at to from in of and or school schools needs nearby different "
    "kids kid children son daughter whole entire own".split())
INSTITUTION = re.compile(
    r"\b((?:[A-Za-z][A-Za-z'’.\-]*[ \t]+){1,3})(school|academy|primary|nursery|college)\b",
    re.IGNORECASE)
ZERO_WIDTH = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")


CAPITALISED = re.compile(r"\b[A-Z][a-z'-]+\b")
AFTER_NAME = re.compile(r"\[name\](?:\s+(?:[A-Z][a-z'-]+|[Oo]['’][a-z]+|[Mm]a?c[a-z]{2,})\b)+")


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    text = resources.files("parentlink").joinpath("data/first_names.txt").read_text("utf-8")
    return frozenset(w for line in text.splitlines() if not line.startswith("#") for w in line.split())


# Names that are also ordinary English words in lower case ("a jade necklace", "the dean",
# "holly and ivy"): matched only when capitalised.
CASE_SENSITIVE_NAMES = frozenset(
    "amber holly ivy jade poppy lily dean jack lee ben harry tom victoria georgia florence "
    "grace ruby daisy willow robyn darcy jordan max finn kai jay roman rowan mason riley shane "
    "dawn tina kerry marcus morgan nana ama elena stanley teddy frankie bobby reece jake "
    "summer rosie millie frances charles neil paul scott sean".split())
WORD = re.compile(r"\b[A-Za-z][a-z'-]+\b")


@lru_cache(maxsize=1)
def _lower_names() -> frozenset[str]:
    return frozenset(n.lower() for n in first_names()) - CASE_SENSITIVE_NAMES


def _names(text: str) -> str:
    """A known first name — capitalised, or in lower case unless it is also an ordinary word —
    and any capitalised words right after it (surnames) become [name]."""
    names, lower = first_names(), _lower_names()

    def one(m: re.Match[str]) -> str:
        w = m.group(0)
        return "[name]" if w in names or w in lower else w

    out = WORD.sub(one, text)
    return AFTER_NAME.sub("[name]", out) if "[name]" in out else out


def pseudonym(identifier: str, key: str) -> str:
    """The pseudonym of one id (same as :func:`pseudonymise_series`)."""
    return str(pseudonymise_series(pd.Series([identifier]), key).iloc[0])


def _nhs_valid(digits: str) -> bool:
    """Modulus-11 check of a 10-digit NHS number."""
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


def _context_name(m: re.Match[str]) -> str:
    first, second = m.group(2), m.group(3)
    if first.casefold() in _NOT_NAME:
        return m.group(0)
    keep_second = second is None or second.casefold() in _NOT_NAME or not second[:1].isupper()
    return m.group(1) + " [name]" + ("" if second is None else (" " + second if keep_second else ""))


def _institution(m: re.Match[str]) -> str:
    """The words right before "school" (etc.) that name it: walking left, each capitalised word,
    or lower-case word that is not an ordinary one, belongs to the name; the first other word
    ends it ("at holy cross school" -> "at [school]", "from the school" is left alone)."""
    words = m.group(1).split()
    keep = len(words)
    while keep > 0:
        w = words[keep - 1]
        bare = w.strip(".'’").casefold()
        ordinary = (bare in _GENERIC or bare in _NOT_NAME or bare.endswith(("'s", "’s"))
                    and not w[:1].isupper())
        if ordinary and not w[:1].isupper():
            break
        if bare in ("the", "a", "an", "at", "to", "from", "in", "of", "and", "or"):
            break
        keep -= 1
    if keep == len(words):
        return m.group(0)
    lead = " ".join(words[:keep])
    return (lead + " " if lead else "") + "[school] "


def normalise_text(text: str) -> str:
    """What the patterns see: NFKC (full-width @ and digits become plain ones, ligatures split),
    with zero-width and soft-hyphen characters removed."""
    return ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text))


def redact(text: str, max_chars: int) -> str:
    """Replace e-mails (also written out or split over lines), URLs, phone numbers, NHS numbers,
    other long numbers, full dates, postcodes, personal names (by list and by context) and named
    schools; cap the length.

    The answer is first normalised (:func:`normalise_text`), so full-width or zero-width-split
    details are seen. The whole answer is redacted before it is capped, so nothing is cut in half
    before its pattern can see it; every pattern runs in linear time.
    """
    if not text:
        return ""
    out = normalise_text(text)
    while "@" in out:  # "a@b.org+c@d.org": the second address is seen once the first is marked
        marked = EMAIL.sub("[email]", out)
        if marked == out:
            break
        out = marked
    if " at " in out.lower() or "(at" in out.lower() or "[at" in out.lower():
        out = EMAIL_WORDS.sub("[email]", out)
    out = URL.sub("[link]", out)
    out = PHONE.sub("[phone]", out)
    out = DATE.sub("[date]", out)
    out = NHS.sub(lambda m: "[nhs number]" if _nhs_valid("".join(m.groups())) else m.group(0), out)
    out = LONG_NUMBER.sub("[number]", out)
    out = POSTCODE.sub("[postcode]", out)
    out = NAME_IS.sub(lambda m: m.group(1) + " [name]", out)
    out = TITLED.sub("[name]", out)
    out = CONTEXT_NAME.sub(_context_name, out)
    out = INSTITUTION.sub(_institution, out)
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
