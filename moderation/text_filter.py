"""Keyword and spam-signal matching that resists the usual evasions.

Text is normalised before matching, keeping for each character where it came from:
full-width → half-width and compatibility forms (NFKC), lower case, traditional → simplified
(OpenCC t2s), and every character that is not a letter or a digit dropped, so spaces, dots,
emoji and zero-width characters inserted between the characters of a word do not hide it
(加 微 信, 加.微.信, 加​微​信). Keywords are matched all at once with an Aho-Corasick
automaton (pyahocorasick) on that text.

Contact details are found on the same text with digits in any script (１３８, 一三八, 壹叁捌):
mobile numbers (11 digits starting 1[3-9], not inside a longer number), WeChat/QQ ids after a
cue (微信, 威信, vx, v信, 加v, qq, 扣扣 …), and links (a scheme, www., or a dotted host with a
known top-level domain, also written 点com / 點com).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import ahocorasick
import opencc

Action = Literal["review", "block"]
ACTION_RANK = {"review": 1, "block": 2}
# An `allow` entry is an ordinary word that overlaps a keyword (单词 against 刷单 in 刷单词卡):
# a keyword match that such a word runs across is not a match.
EntryAction = Literal["review", "block", "allow"]

_t2s = opencc.OpenCC("t2s")
_t2s_lock = threading.Lock()  # the pure-Python converter keeps per-call state

_DIGITS = str.maketrans(
    {
        **{ch: str(i) for i, ch in enumerate("零一二三四五六七八九")},
        **{ch: str(i) for i, ch in enumerate("〇壹贰叁肆伍陆柒捌玖")},
        "两": "2",
        "幺": "1",
    }
)


@dataclass(frozen=True)
class Keyword:
    word: str
    action: EntryAction
    category: str = "other"


@dataclass(frozen=True)
class Match:
    kind: Literal["keyword", "phone", "contact", "link"]
    text: str  # what matched, as written in the original text
    action: Action
    category: str
    start: int
    end: int


def _keep(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] in "LN"


def normalize(text: str) -> tuple[str, list[int]]:
    """The matching form of `text` and, for each of its characters, its index in `text`."""
    out: list[str] = []
    origins: list[int] = []
    with _t2s_lock:
        simplified = _t2s.convert(text)
    # t2s maps character for character here; fall back to the original if lengths differ.
    source = simplified if len(simplified) == len(text) else text
    for index, ch in enumerate(source):
        for normal in unicodedata.normalize("NFKC", ch).lower():
            if _keep(normal):
                out.append(normal)
                origins.append(index)
    return "".join(out), origins


def normalize_word(word: str) -> str:
    return normalize(word)[0]


_PHONE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
_CONTACT_CUE = re.compile(
    r"(?:微信|威信|薇信|徽信|维信|卫星|v信|vx|wx|weixin|wechat|加v|扣扣|企鹅|qq|tg|telegram)"
    r"(?:号|id|号码)?"
)
_ID = re.compile(r"[a-z][a-z0-9_-]{5,19}|[0-9]{5,12}")
_LINK = re.compile(
    r"(?:https?|ftp)[a-z0-9]*(?:\.|点)|www(?:\.|点)?[a-z0-9-]+"
    r"|[a-z0-9-]{2,}(?:\.|点)(?:com|cn|net|org|xyz|top|vip|shop|cc|io|me|link|club)(?![a-z])"
)


def _with_dots(text: str) -> str:
    """Links need their dots: a lighter normalisation (no symbol stripping but the dot)."""
    with _t2s_lock:
        simplified = _t2s.convert(text)
    flat = unicodedata.normalize("NFKC", simplified).lower().replace("點", "点")
    return "".join(ch for ch in flat if _keep(ch) or ch in ".:/")


class TextFilter:
    """Built once from the keyword list (a moderator's change rebuilds it); thread-safe."""

    def __init__(self, keywords: Iterable[Keyword] = ()) -> None:
        self._automaton = ahocorasick.Automaton()
        self._allowed = ahocorasick.Automaton()
        count = allowed = 0
        for keyword in keywords:
            word = normalize_word(keyword.word)
            if not word:
                continue
            if keyword.action == "allow":
                self._allowed.add_word(word, word)
                allowed += 1
                continue
            previous = self._automaton.get(word, None)
            if previous is None or ACTION_RANK[keyword.action] > ACTION_RANK[previous.action]:
                self._automaton.add_word(word, Keyword(word, keyword.action, keyword.category))
                count += 1
        self.size = count
        if count:
            self._automaton.make_automaton()
        if allowed:
            self._allowed.make_automaton()
        self._has_allowed = bool(allowed)

    def _overridden(self, spans: list[tuple[int, int]], start: int, end: int) -> bool:
        """An allowed word overlaps the match and reaches outside it."""
        return any(
            a_start < end and start < a_end and (a_start < start or a_end > end)
            for a_start, a_end in spans
        )

    def scan(self, text: str) -> list[Match]:
        """Every keyword and contact detail in `text`, in order of appearance."""
        normal, origins = normalize(text)
        found: list[Match] = []

        def span(start: int, end: int) -> tuple[int, int]:
            return origins[start], origins[end - 1] + 1

        allowed = (
            [(end - len(word) + 1, end + 1) for end, word in self._allowed.iter(normal)]
            if self._has_allowed
            else []
        )
        if self.size:
            for end, keyword in self._automaton.iter(normal):
                first = end - len(keyword.word) + 1
                if allowed and self._overridden(allowed, first, end + 1):
                    continue
                begin, stop = span(first, end + 1)
                found.append(
                    Match(
                        "keyword", text[begin:stop], keyword.action, keyword.category, begin, stop
                    )
                )
        digits = normal.translate(_DIGITS)
        for hit in _PHONE.finditer(digits):
            begin, stop = span(hit.start(), hit.end())
            found.append(Match("phone", text[begin:stop], "review", "spam_ads", begin, stop))
        for cue in _CONTACT_CUE.finditer(digits):
            tail = _ID.match(digits, cue.end(), cue.end() + 24)
            if tail is None:
                tail = _ID.match(digits, cue.end() + 1, cue.end() + 24)  # one joining character
            if tail is not None:
                begin, stop = span(cue.start(), tail.end())
                found.append(Match("contact", text[begin:stop], "review", "spam_ads", begin, stop))
        dotted = _with_dots(text)
        for hit in _LINK.finditer(dotted):
            found.append(Match("link", hit.group(0), "review", "spam_ads", -1, -1))
        return sorted(found, key=lambda m: (m.start, m.end))

    def verdict(self, text: str) -> Action | None:
        """The strictest action any match asks for, or None for clean text."""
        matches = self.scan(text)
        if not matches:
            return None
        return max((m.action for m in matches), key=ACTION_RANK.__getitem__)
