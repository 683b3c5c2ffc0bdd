"""Reading level of a document's prose: the Flesch–Kincaid grade.

grade = 0.39 × (words / sentences) + 11.8 × (syllables / words) − 15.59
(Kincaid et al. 1975). A grade of 6 is roughly a reading age of 11–12; GOV.UK aims for a
reading age of 9. The measure only sees sentence and word length: a short sentence of
jargon scores well, so it is a floor, not a judge.

What is measured (`prose`): paragraphs and list items of the document's <main>; tables,
headings, figures and their captions, quotations (people's own words, not ours), the synthetic
banner and navigation are left out. Each paragraph, list item or cell ends a sentence even
without a full stop. Syllables are counted by a rule (vowel groups, a silent final "e", "-le"
endings), within about one syllable of a dictionary for common English words; a number counts
as one word of two syllables, a symbol (%, £) as nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

_SKIP = {"h1", "h2", "h3", "h4", "figure", "figcaption", "blockquote", "nav", "script", "table",
         "style", "head", "title"}
_BLOCK = {"p", "li", "td", "th", "dd", "dt", "caption", "div", "section", "br", "tr"}
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d[\d,.]*")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")


class _Prose(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skipping: str | None = None  # the tag that opened the skipped element
        self.skip_depth = 0  # its nesting depth (same tag inside it)
        self.in_main = False
        self.blocks: list[str] = []
        self.current: list[str] = []

    def _flush(self) -> None:
        text = " ".join("".join(self.current).split())
        if text:
            self.blocks.append(text)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        cls = dict(attrs).get("class") or ""
        if self.skipping is not None:
            self.skip_depth += tag == self.skipping
            return
        if tag == "main":
            self.in_main = True
        if tag in _SKIP or "synthetic-banner" in cls:
            self._flush()
            self.skipping, self.skip_depth = tag, 1
        elif tag in _BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if self.skipping is not None:
            if tag == self.skipping:
                self.skip_depth -= 1
                if self.skip_depth == 0:
                    self.skipping = None
            return
        if tag in _BLOCK:
            self._flush()
        if tag == "main":
            self._flush()
            self.in_main = False

    def handle_data(self, data: str) -> None:
        if self.in_main and self.skipping is None:
            self.current.append(data)


def prose(html: str) -> list[str]:
    """The blocks of running text of a document (see the module's note on what is left out).
    A `div` with class `synthetic-banner` is left out; other divs only end a block."""
    parser = _Prose()
    parser.feed(html)
    parser.close()
    return parser.blocks


def syllables(word: str) -> int:
    """Syllables of one English word by rule; a number counts as two."""
    if word[0].isdigit():
        return 2
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 0
    groups = re.findall(r"[aeiouy]+", w)
    n = len(groups)
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and n > 1:
        n -= 1  # silent final e: "make", "share"
    if w.endswith(("ed",)) and not w.endswith(("ted", "ded")) and n > 1:
        n -= 1  # "asked", "linked"
    if w.endswith("es") and not w.endswith(("ses", "zes", "ches", "shes", "ges", "ces", "ies")) and n > 1:
        n -= 1  # "makes", "families" stays (ies is one group)
    return max(n, 1)


@dataclass(frozen=True)
class Reading:
    sentences: int
    words: int
    syllables: int

    @property
    def grade(self) -> float:
        """Flesch–Kincaid grade level."""
        if not self.words or not self.sentences:
            return 0.0
        return (0.39 * self.words / self.sentences + 11.8 * self.syllables / self.words
                - 15.59)

    @property
    def words_per_sentence(self) -> float:
        return self.words / self.sentences if self.sentences else 0.0


def measure(blocks: list[str]) -> Reading:
    """Sentences, words and syllables of blocks of text (each block ends a sentence)."""
    sentences = words = syl = 0
    for block in blocks:
        parts = [p for p in _SENTENCE_END.split(block) if _WORD.search(p)]
        sentences += len(parts)
        for token in _WORD.findall(block):
            words += 1
            syl += syllables(token)
    return Reading(sentences, words, syl)


def grade(html: str) -> Reading:
    """The Flesch–Kincaid measures of an HTML document's prose."""
    return measure(prose(html))
