"""Chinese-first text analysis shared by every backend: the same normalisation and jieba
segmentation at index and at query time, so a query matches what was indexed.

- Normalisation: NFKC (full-width Ａ１！ → half-width A1!, compatibility forms), lower case.
- Segmentation: jieba's search mode, which adds the shorter words inside long ones
  (防晒霜 → 防晒, 防晒霜), so two-character queries find longer words.
- A custom dictionary: product and brand words shipped in `dictionary.txt`, plus the
  deployment's own tags and topic names (`Analyzer.add_words`), so they stay whole.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import jieba

DICTIONARY = Path(__file__).with_name("dictionary.txt")
jieba.setLogLevel(logging.WARNING)
# Letters and digits apart (iphone15 → iphone, 15), whichever way a note or a query wrote them.
_LATIN_PIECES = re.compile(r"[a-z]+|[0-9]+")
# Function words left out of queries (not of the index) when a query has other words: "的"
# alone would match half the notes once a query falls back to any-word matching.
STOP_WORDS = frozenset(
    (
        *("的", "了", "是", "在", "和", "与", "及", "或", "也", "都", "就", "而"),
        *("吗", "呢", "吧", "啊", "呀", "哦", "很", "有", "我", "你", "他", "她", "它"),
        *("我们", "你们", "这", "那", "这个", "那个", "一个", "怎么", "什么", "哪里"),
        *("如何", "还是", "a", "an", "the", "of", "and", "or", "to", "in", "on", "for", "is"),
    )
)
MAX_QUERY_CHARS = 200  # longer queries are cut, not refused: a pasted paragraph still searches


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _is_word(token: str) -> bool:
    """Tokens with a letter or a digit in them: punctuation, symbols and spaces are dropped."""
    return any(ch.isalnum() for ch in token)


class Analyzer:
    """A jieba tokenizer of its own (not jieba's global one), loaded on first use: loading the
    dictionary takes about a second, which no process should pay before it needs to."""

    def __init__(self, dictionary: Path | None = DICTIONARY) -> None:
        self._dictionary = dictionary
        self._lock = threading.Lock()
        self._tokenizer: jieba.Tokenizer | None = None
        self._known: set[str] = set()

    def _ready(self) -> jieba.Tokenizer:
        tokenizer = self._tokenizer
        if tokenizer is not None:
            return tokenizer
        with self._lock:
            if self._tokenizer is None:
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                if self._dictionary is not None and self._dictionary.exists():
                    tokenizer.load_userdict(str(self._dictionary))
                self._tokenizer = tokenizer
            return self._tokenizer

    def add_words(self, words: Iterable[str]) -> int:
        """Keep these words (tags, topic names) whole; returns how many were new."""
        tokenizer = self._ready()
        added = 0
        with self._lock:
            for word in words:
                word = normalize(word).strip()
                if len(word) >= 2 and word not in self._known and " " not in word:
                    tokenizer.add_word(word, freq=None)
                    self._known.add(word)
                    added += 1
        return added

    def tokens(self, text: str) -> list[str]:
        """Index-time tokens, in order, repeats kept (term frequency matters to BM25)."""
        if not text:
            return []
        out: list[str] = []
        for token in self._ready().cut_for_search(normalize(text)):
            if not _is_word(token):
                continue
            if token.isascii():
                out.extend(_LATIN_PIECES.findall(token))
            else:
                out.append(token)
        return out

    def query_terms(self, query: str) -> list[str]:
        """The distinct words of a query, in order."""
        seen: dict[str, None] = {}
        for token in self.tokens(query[:MAX_QUERY_CHARS]):
            seen.setdefault(token, None)
        terms = [t for t in seen if t not in STOP_WORDS]
        return terms or list(seen)


_shared: Analyzer | None = None


def analyzer() -> Analyzer:
    """The process's analyzer (one dictionary in memory per process)."""
    global _shared
    if _shared is None:
        _shared = Analyzer()
    return _shared
