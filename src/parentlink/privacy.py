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
_AT = r"(?:[ \t]*[(\[{<][ \t]*at[ \t]*[)\]}>][ \t]*|[ \t]+at[ \t]+)"
# A written-out dot, or a plain dot with no space around it (". " ends a sentence).
_DOT = r"(?:[ \t]*[(\[{<][ \t]*dot[ \t]*[)\]}>][ \t]*|[ \t]+dot[ \t]+|\.)"
# Bounded parts (at most 64 characters, 6 dots), and a start only where a run of address
# characters starts: linear time even on "x.x.x…" runs.
EMAIL_WORDS = re.compile(rf"(?<![\w.+-])[\w+-]{{1,64}}(?:{_DOT}[\w+-]{{1,64}}){{0,6}}{_AT}"
                         rf"[\w-]{{1,64}}(?:{_DOT}[\w-]{{1,64}}){{0,6}}{_DOT}{_TLDS}\b",
                         re.IGNORECASE)
URL = re.compile(r"\b(?:https?|ftp|file)://\S+|\bwww\.\S+", re.IGNORECASE)
# Social-media handles ("@jo_bloggs") and National Insurance numbers ("QQ 12 34 56 C", capitals).
HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_]{2,30}\b")
NINO = re.compile(r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
# UK numbers: +44 / 0044 (with an optional (0)) or 0, then 9-10 more digits, in groups separated
# by spaces, dots, dashes or brackets: "07700 900123", "+44 (0)20 7946 0958", "0044-20-7946-0958",
# "(020) 7946 0958", "07700.900.123".
_SEP = r"[ \t.\-()/]{0,3}"
PHONE = re.compile(rf"(?<![\w+])(?:(?:\+|00)[ \t]?44{_SEP}(?:\(\s*0\s*\){_SEP})?\d(?:{_SEP}\d){{8,9}}"
                   rf"|\(?\s*0(?:{_SEP}\d){{9,10}})(?!\d)")
# Ten digits in 3-3-4 (or unbroken): an NHS number when its modulus-11 check digit agrees.
NHS = re.compile(r"(?<!\d)(\d{3})[ \t\-]?(\d{3})[ \t\-]?(\d{4})(?!\d)")
# Any other long run of digits (account, reference or unknown numbers); "2020-2021" is a range.
LONG_NUMBER = re.compile(r"(?<!\d)\d(?:[ \t]?\d){7,}(?!\d)")
_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
# A full date (a date of birth is the usual reason to write one): 12/03/2015, 1.3.15,
# 12 March 2015, 1st Jan 2016, March 12, 2015.
DATE = re.compile(rf"(?<!\d)\d{{1,2}}[/.\-]\d{{1,2}}[/.\-](?:\d{{4}}|\d{{2}})(?!\d)"
                  rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}\.?,?\s+\d{{2,4}}\b"
                  rf"|\b{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b", re.IGNORECASE)
# Postcodes, any case, including GIR 0AA; the inward code's letters exclude C, I, K, M, O, V.
_INWARD = "[ABD-HJLNP-UW-Z]"
POSTCODE = re.compile(rf"\b(?:GIR[ \t]*0AA|[A-Z]{{1,2}}\d[A-Z\d]?[ \t]*\d{_INWARD}{{2}})\b",
                      re.IGNORECASE)
# Spaced out, one character at a time ("S O 1 7 1 B J"): capitals only, so "at 10 am" is not one.
POSTCODE_SPACED = re.compile(rf"\b[A-Z](?: [A-Z])? \d(?: [A-Z\d])? +\d {_INWARD} {_INWARD}\b")
TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+(?:[A-Z]|[Oo]['’])[A-Za-z'’-]+"
                    r"(?:\s+[A-Z][A-Za-z'’-]+)?")
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
    "kids kid children son daughter whole entire own after before during outside inside pre post "
    "sixth form mainstream council community comprehensive academy further higher art music "
    "sports sport dance drama forest summer holiday breakfast evening night online home senior "
    "middle upper lower year reception".split())
INSTITUTION = re.compile(r"\b(?:school|academy|primary|nursery|college)\b", re.IGNORECASE)
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z'’.\-]{0,40})[ \t]+$")
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
def _all_lower_names() -> frozenset[str]:
    return frozenset(n.lower() for n in first_names())


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
    """After "my son", "called" etc.: a capitalised word that is not an ordinary one, or a word in
    the names list in any case, is a name ("my son jack"; "my son didn't" stays)."""
    first, second = m.group(2), m.group(3)
    if first.casefold() in _NOT_NAME or not (first[:1].isupper()
                                             or first.lower() in _all_lower_names()):
        return m.group(0)
    is_surname = second is not None and second[:1].isupper() and second.casefold() not in _NOT_NAME
    return m.group(1) + " [name]" + ("" if second is None or is_surname else " " + second)


def _institutions(text: str) -> str:
    """A named school, academy, nursery or college: the capitalised words right before the
    keyword ("Holy Cross School", "St Mary's primary"), at least one of them not an ordinary one
    ("High school", "After school clubs" and "Every school" stay). In lower case ("holy cross
    school", "st bede's primary") the words right before the keyword up to the first ordinary
    one (the, my, local, to, went…): this over-redacts an unlisted ordinary word ("driving
    school" becomes "[school]"), which loses nothing a reader needs; the quote approval still
    reads every comment. Each keyword looks back at most three words (linear time)."""
    out: list[str] = []
    pos = 0
    for m in INSTITUTION.finditer(text):
        start = m.start()
        words: list[tuple[int, str]] = []
        cut = start
        while len(words) < 3:
            w = _WORD_BEFORE.search(text, max(pos, cut - 48), cut)
            if not w:
                break
            if not w.group(1)[:1].isupper():
                key = re.sub(r"['’]s$", "", w.group(1).strip(".'’").casefold())
                if key in _GENERIC or key in _NOT_NAME or not key.isalpha():
                    break
            words.append((w.start(1), w.group(1)))
            cut = w.start(1)
        names = [w for _, w in words if w.strip(".'’").casefold() not in _GENERIC
                 and w.strip(".'’").casefold() not in _NOT_NAME]
        if not names or start < pos:
            continue
        begin = words[-1][0]
        out.append(text[pos:begin] + "[school]")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


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
    out = HANDLE.sub("[handle]", out)
    out = NINO.sub("[ni number]", out)
    out = PHONE.sub("[phone]", out)
    out = DATE.sub("[date]", out)
    out = NHS.sub(lambda m: "[nhs number]" if _nhs_valid("".join(m.groups())) else m.group(0), out)
    out = LONG_NUMBER.sub("[number]", out)
    out = POSTCODE.sub("[postcode]", out)
    out = POSTCODE_SPACED.sub("[postcode]", out)
    out = NAME_IS.sub(lambda m: m.group(1) + " [name]", out)
    out = TITLED.sub("[name]", out)
    out = CONTEXT_NAME.sub(_context_name, out)
    out = _institutions(out)
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
