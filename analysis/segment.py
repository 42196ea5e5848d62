"""Split cleaned documents into segments, and find exact and near-duplicate segments.

Segments are character spans into a document's cleaned text, so every segment can be traced back
(`clean[start:end] == segment text`). Units:

- `paragraph` (default): blank-line separated blocks; a document with no blank line at all uses its
  line breaks instead (many exports put one paragraph per line).
- `sentence`: each paragraph cut after `.`, `!`, `?`, `؟` or `…` (plus closing quotes/brackets) when
  followed by white space or directly by an Arabic letter (Arabic exports often glue sentences:
  "…مستويات.وأشار"). A regex, not a trained splitter: abbreviations such as "U.S." also cut, which the
  short-fragment rule below mostly repairs.
- `document`: the whole cleaned text.

Then two rules, for every unit:

- Short fragments (headings, bullets, abbreviation cuts) shorter than `min_chars` join the NEXT
  segment of the same document, so a heading travels with its paragraph; a short last fragment
  joins the one before; a document whose whole text is short stays one segment.
- Segments longer than `max_chars` (an encoder window) are cut into equal-ish parts, at the sentence
  end nearest the ideal cut, else at a space, else hard at the ideal cut; nothing is truncated.

Duplicates (`mark_duplicates`): exact duplicates share a normalised text (case-folded, punctuation and
spacing ignored); near duplicates have a character 5-gram Jaccard similarity at or above the
threshold, found with MinHash + LSH banding and then verified exactly. MinHash is computed with numpy
in one vectorised pass (one-permutation hashing with densification, Shrivastava 2017) because
`datasketch` measured 67 s for 60,000 segments here (Python-level shingling); this takes seconds.
Candidate pairs are accepted on the MinHash estimate (128 bins), except those within 0.1 of the
threshold, which are checked exactly.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from analysis.text.arabic import LETTERS

_BLANK_LINE = re.compile(r"\n[ \t\u00a0]*\n\s*")
_LINE_BREAK = re.compile(r"\n\s*")
_SENTENCE_END = re.compile(rf"[.!?؟…]+[\"'»”’)\]]*(?=\s|[{LETTERS}]|$)")
_SPACE = re.compile(r"\s+")
_NOT_WORD = r"[^\pL\pN\pM]+"  # RE2 syntax (pyarrow): anything but letters, digits, marks

SHINGLE = 5
_BINS = 128  # MinHash bins: the Jaccard estimate has a standard error of about 0.03 at 0.85
_EMPTY = np.uint64(2**64 - 1)
_EXACT_MARGIN = 0.1  # candidate pairs estimated this close to the threshold are checked exactly
_CHUNK = 5000  # texts hashed at a time, to bound memory


def split_segments(
    clean_text: str, unit: str = "paragraph", min_chars: int = 40, max_chars: int = 1500
) -> list[tuple[int, int]]:
    """Character spans `(start, end)` of the segments of one cleaned document, in order.

    Spans never start or end with white space; an all-blank text has no segment.
    """
    if unit not in _UNITS:
        raise ValueError(f"unknown segment unit {unit!r}; valid: {', '.join(_UNITS)}")
    if max_chars < 1 or min_chars < 0:
        raise ValueError(f"need max_chars >= 1 and min_chars >= 0 (got {max_chars}, {min_chars})")
    spans = _merge_short(_UNITS[unit](clean_text), min_chars)
    return [part for span in spans for part in _split_long(clean_text, span, max_chars)]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _between(text: str, separator: re.Pattern[str], start: int = 0, end: int | None = None):
    """Stripped, non-empty spans of `text[start:end]` between matches of `separator`."""
    end = len(text) if end is None else end
    spans, cursor = [], start
    for match in separator.finditer(text, start, end):
        spans.append(_strip(text, cursor, match.start()))
        cursor = match.end()
    spans.append(_strip(text, cursor, end))
    return [(s, e) for s, e in spans if e > s]


def _paragraphs(text: str) -> list[tuple[int, int]]:
    separator = _BLANK_LINE if _BLANK_LINE.search(text) else _LINE_BREAK
    return _between(text, separator)


def _sentences(text: str) -> list[tuple[int, int]]:
    spans = []
    for start, end in _paragraphs(text):
        cuts = [m.end() for m in _SENTENCE_END.finditer(text, start, end)]
        bounds = [start, *cuts, end]
        spans += [_strip(text, a, b) for a, b in itertools.pairwise(bounds)]
    return [(s, e) for s, e in spans if e > s]


def _document(text: str) -> list[tuple[int, int]]:
    start, end = _strip(text, 0, len(text))
    return [(start, end)] if end > start else []


_UNITS = {"paragraph": _paragraphs, "sentence": _sentences, "document": _document}


def _merge_short(spans: list[tuple[int, int]], min_chars: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    pending: int | None = None  # start of short fragments waiting for the next segment
    for start, end in spans:
        start = start if pending is None else pending
        if end - start < min_chars:
            pending = start
            continue
        merged.append((start, end))
        pending = None
    if pending is not None:
        if merged:
            merged[-1] = (merged[-1][0], spans[-1][1])
        else:
            merged.append((pending, spans[-1][1]))
    return merged


def _split_long(text: str, span: tuple[int, int], max_chars: int) -> list[tuple[int, int]]:
    start, end = span
    if end - start <= max_chars:
        return [span]
    sentence_cuts = [m.end() for m in _SENTENCE_END.finditer(text, start, end)]
    space_cuts = [m.start() for m in _SPACE.finditer(text, start, end)]
    parts = []
    while end - start > max_chars:
        n_left = math.ceil((end - start) / max_chars)
        ideal = start + (end - start) / n_left
        cut = _nearest(sentence_cuts, ideal, start, start + max_chars)
        if cut is None:
            cut = _nearest(space_cuts, ideal, start, start + max_chars)
        if cut is None:
            cut = round(ideal)
        parts.append(_strip(text, start, cut))
        start, _ = _strip(text, cut, end)
    parts.append((start, end))
    return [(s, e) for s, e in parts if e > s]


def _nearest(cuts: list[int], ideal: float, low: int, high: int) -> int | None:
    """The cut in `cuts` (sorted) strictly after `low` and at most `high` closest to `ideal`."""
    i, j = bisect.bisect_right(cuts, low), bisect.bisect_right(cuts, high)
    if i >= j:
        return None
    k = bisect.bisect_left(cuts, ideal, i, j)
    options = [cuts[x] for x in (k - 1, k) if i <= x < j]
    return min(options, key=lambda c: abs(c - ideal))


# --- duplicates -------------------------------------------------------------------------------


def normalise_for_duplicates(texts: Sequence[str]) -> list[str]:
    """Case, punctuation and spacing ignored: what "the same text" means for exact duplicates."""
    lowered = pc.utf8_lower(pa.array(list(texts), type=pa.large_string()))
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(lowered, _NOT_WORD, " ")).to_pylist()


def mark_duplicates(segments: pd.DataFrame, threshold: float = 0.85, *, near_pairs=None) -> pd.Series:
    """`duplicate_of` for each row: "" for an original, else the `segment_id` it repeats.

    Needs columns `text` and `segment_id`; uses `date` when present. The original of a group is
    the earliest by date (unknown dates last), then by row order. Near duplicates are grouped
    transitively (A≈B and B≈C put C with A). The returned Series carries the counts in
    `.attrs["exact"]` and `.attrs["near"]`. `near_pairs(texts, threshold)` finds the near pairs
    (default `_near_pairs`; `analysis.compute` passes one that runs in partitions on a cluster).
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
    n = len(segments)
    result = pd.Series([""] * n, index=segments.index, name="duplicate_of", dtype=object)
    result.attrs.update(exact=0, near=0)
    if n == 0:
        return result
    dates = (
        pd.to_datetime(segments["date"]) if "date" in segments else pd.Series(pd.NaT, index=segments.index)
    )
    known = dates.fillna(pd.Timestamp(0)).to_numpy().astype("datetime64[ns]").view("int64")
    order = np.lexsort((np.arange(n), known, dates.isna().to_numpy()))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)

    normalised = normalise_for_duplicates(segments["text"].astype(str).tolist())
    # exact: every member of a normalised-text group points to the group's earliest member
    groups = pd.Series(rank).groupby(pd.Series(normalised), sort=False).transform("min").to_numpy()
    root = order[groups]  # row position of each row's exact original
    representatives = np.flatnonzero(root == np.arange(n))
    exact = int(n - len(representatives))

    if threshold < 1:
        pairs = (near_pairs or _near_pairs)([normalised[i] for i in representatives], threshold)
        if len(pairs):
            a, b = representatives[pairs[:, 0]], representatives[pairs[:, 1]]
            graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
            _, component = connected_components(graph, directed=False)
            component_root = pd.Series(rank).groupby(component).transform("min").to_numpy()
            root = order[component_root[root]]
    is_duplicate = root != np.arange(n)
    ids = segments["segment_id"].astype(str).to_numpy()
    result[is_duplicate] = ids[root[is_duplicate]]
    result.attrs.update(exact=exact, near=int(is_duplicate.sum()) - exact)
    return result


def _near_pairs(texts: Sequence[str], threshold: float) -> np.ndarray:
    """Index pairs (i, j) of `texts` whose estimated 5-gram Jaccard similarity is >= threshold."""
    rows, bands = _lsh_shape(threshold)
    signatures = np.concatenate(
        [_signatures(texts[i : i + _CHUNK]) for i in range(0, len(texts), _CHUNK)]
        or [np.empty((0, _BINS), dtype=np.uint64)]
    )
    has_shingles = np.flatnonzero(signatures[:, 0] != _EMPTY)
    signatures = signatures[has_shingles]
    candidates = _candidates(signatures, rows, bands)
    if len(candidates) == 0:
        return np.empty((0, 2), dtype=np.int64)
    estimate = (signatures[candidates[:, 0]] == signatures[candidates[:, 1]]).mean(axis=1)
    pairs = has_shingles[candidates]
    accepted = estimate >= threshold
    for k in np.flatnonzero(np.abs(estimate - threshold) < _EXACT_MARGIN):  # borderline: check exactly
        accepted[k] = _jaccard(texts[pairs[k, 0]], texts[pairs[k, 1]]) >= threshold
    return pairs[accepted]


def _jaccard(a: str, b: str) -> float:
    """Exact character 5-gram Jaccard similarity of two texts."""
    grams_a = {a[i : i + SHINGLE] for i in range(len(a) - SHINGLE + 1)}
    grams_b = {b[i : i + SHINGLE] for i in range(len(b) - SHINGLE + 1)}
    return len(grams_a & grams_b) / max(1, len(grams_a | grams_b))


def _lsh_shape(threshold: float) -> tuple[int, int]:
    """Rows per band and bands: a pair at the threshold becomes a candidate with >= 99 % chance."""
    rows = max(3, round(math.log(0.4) / math.log(threshold))) if threshold < 1 else 8
    per_band = threshold**rows
    bands = math.ceil(math.log(0.01) / math.log(1 - per_band)) if per_band < 1 else 1
    return rows, max(1, min(bands, _BINS // rows))


def _signatures(texts: Sequence[str]) -> np.ndarray:
    """One-permutation MinHash (texts × _BINS): each 5-gram hash goes to one bin, the bin keeps its
    minimum; empty bins (short texts) borrow the next non-empty bin's value ("densification").
    Equal-bin share estimates Jaccard similarity; texts under 5 characters get `_EMPTY` rows."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n_grams = len(codes) - SHINGLE + 1
    signatures = np.full((len(texts), _BINS), _EMPTY, dtype=np.uint64)
    if n_grams <= 0:
        return signatures
    with np.errstate(over="ignore"):
        hashes = np.zeros(n_grams, dtype=np.uint64)
        for k in range(SHINGLE):
            hashes = hashes * np.uint64(1_000_003) + codes[k : k + n_grams]
        text_of = np.repeat(np.arange(len(texts)), lengths)[:n_grams]
        offset = np.arange(n_grams) - np.repeat(np.cumsum(lengths) - lengths, lengths)[:n_grams]
        inside = offset <= (lengths[text_of] - SHINGLE)  # the 5-gram does not cross into the next text
        hashes, text_of = _mix(hashes[inside]), text_of[inside]
        bins = (hashes % np.uint64(_BINS)).astype(np.int64)
        np.minimum.at(signatures, (text_of, bins), hashes >> np.uint64(8))
        for shift in range(1, _BINS):  # densify by rotation, marking the distance travelled
            empty = signatures == _EMPTY
            rows_with_values = ~empty.all(axis=1)
            todo = empty & rows_with_values[:, None]
            if not todo.any():
                break
            borrowed = np.roll(signatures, -shift, axis=1)
            fill = todo & (borrowed != _EMPTY)
            signatures[fill] = borrowed[fill] ^ (np.uint64(shift) << np.uint64(56))
    return signatures


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads a polynomial hash over all 64 bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _candidates(signatures: np.ndarray, rows: int, bands: int) -> np.ndarray:
    """Pairs of signature rows that agree on all `rows` values of at least one band; within one
    bucket every member is paired with the bucket's first (enough for grouping)."""
    pairs = []
    weights = _mix(np.arange(1, rows + 1, dtype=np.uint64))
    with np.errstate(over="ignore"):
        for band in range(bands):
            keys = (signatures[:, band * rows : (band + 1) * rows] * weights).sum(axis=1)
            order = np.argsort(keys, kind="stable")
            sorted_keys = keys[order]
            same_as_previous = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1]) + 1
            if len(same_as_previous) == 0:
                continue
            first = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
            bucket_first = order[first[np.searchsorted(first, same_as_previous, side="right") - 1]]
            pairs.append(np.column_stack([bucket_first, order[same_as_previous]]))
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(np.sort(np.concatenate(pairs), axis=1), axis=0)
