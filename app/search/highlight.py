"""Highlights on the original text: the query's words wrapped in <em>, found through the same
normalisation as the index (full-width, case), the rest HTML-escaped."""

from __future__ import annotations

import html
import unicodedata

SNIPPET_CHARS = 80


def _normalized_with_origins(text: str) -> tuple[str, list[int]]:
    """The normalised text and, for each of its characters, where it came from in `text`."""
    out: list[str] = []
    origins: list[int] = []
    for index, char in enumerate(text):
        for normal in unicodedata.normalize("NFKC", char).lower():
            out.append(normal)
            origins.append(index)
    return "".join(out), origins


def _spans(text: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    normal, origins = _normalized_with_origins(text)
    spans: list[tuple[int, int]] = []
    for term in sorted(set(terms), key=len, reverse=True):
        start = normal.find(term)
        while term and start != -1:
            end = start + len(term)
            spans.append((origins[start], origins[end - 1] + 1))
            start = normal.find(term, end)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, terms: tuple[str, ...], snippet: bool = False) -> str:
    """`text` with every occurrence of the terms in <em>; with `snippet`, only a window of
    about `SNIPPET_CHARS` characters around the first one (… marks cuts)."""
    spans = _spans(text, terms)
    begin, end = 0, len(text)
    if snippet and len(text) > SNIPPET_CHARS:
        first = spans[0][0] if spans else 0
        begin = max(0, first - SNIPPET_CHARS // 4)
        end = min(len(text), begin + SNIPPET_CHARS)
    parts: list[str] = ["…"] if begin > 0 else []
    cursor = begin
    for start, stop in spans:
        if stop <= begin or start >= end:
            continue
        start, stop = max(start, begin), min(stop, end)
        parts.append(html.escape(text[cursor:start]))
        parts.append("<em>" + html.escape(text[start:stop]) + "</em>")
        cursor = stop
    parts.append(html.escape(text[cursor:end]))
    if end < len(text):
        parts.append("…")
    return "".join(parts)
