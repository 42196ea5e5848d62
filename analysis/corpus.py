"""Load a SOURCE into one accounted-for segment table: `build_corpus(source, config) -> Corpus`.

SOURCE (a folder, a table or a corpus description) is read by `analysis.documents`, whose docstring
gives the formats; here the raw documents are cleaned (`analysis.text`), segmented and deduplicated
(`analysis.segment`), their languages detected and their dates parsed.

Every input document gets exactly one `document` row in the ledger (used, duplicate, empty,
unreadable, boilerplate, invalid, skipped) and every removed piece a `piece` row; `build_corpus` checks that
before returning. Files that cannot be decoded are ledger rows, not errors; a source that cannot be
read as asked (missing path, missing column, duplicate ids, unsafe manifest) raises `CorpusError`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from analysis.config import CorpusConfig
from analysis.documents import (  # noqa: F401 (re-exported: the corpus stage's reading API)
    DOCUMENT_SUFFIXES,
    TABLE_SUFFIXES,
    RawDocument,
    raise_on_duplicate_ids,
    read_documents,
    source_folders,
)
from analysis.readers import CorpusError
from analysis.schema import LEDGER_COLUMNS, SEGMENT_COLUMNS, is_original
from analysis.segment import mark_duplicates, split_segments
from analysis.text import clean_text, detect_languages, find_repeated_lines, parse_date

_DEFAULTS = CorpusConfig()
# Below this detector confidence a segment of a document with a declared language takes that
# language: on morocco-news every misdetection of a title scored < 0.93, 95 % of correct ones > 0.95.
_OWN_LANGUAGE_MIN_CONFIDENCE = 0.9
_IMPLAUSIBLE = "implausible date"


@dataclass(frozen=True)
class Corpus:
    """The segment table, the ledger accounting for every input document, and where they came from."""

    segments: pd.DataFrame
    ledger: pd.DataFrame
    name: str
    inputs: list[str]

    @property
    def source_label(self) -> str:
        return self.name

    def summary(self) -> dict[str, Any]:
        """Counts for the command line and the run manifest (plain JSON types)."""
        return summarise(self)



# --- public functions ----------------------------------------------------------------------------


def build_corpus(source: str | Path, config: CorpusConfig = _DEFAULTS, *, progress: bool = True) -> Corpus:
    """Load, clean, segment, detect languages, mark duplicates, and account for every document."""
    name, inputs, documents = read_documents(source)
    check_unique_ids(documents)
    root = Path(os.path.commonpath([str(Path(p).resolve().parent) for p in inputs])) if inputs else Path()
    documents = _clean_all(documents, config, progress)
    implausible: dict[str, str] = {}
    segments = _segment_all(documents, config, root, progress, implausible)
    segments["duplicate_of"] = mark_duplicates(segments, config.near_duplicate_threshold).astype("str")
    ledger = _ledger(documents, segments, root, implausible)
    _check_ledger(ledger, segments, len(documents))
    return Corpus(segments=segments, ledger=ledger, name=name, inputs=inputs)


def write_corpus(corpus: Corpus, run_dir: str | Path) -> dict[str, Path]:
    """Write `segments.parquet` and `ledger.csv` into `run_dir`; return their paths."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = {"segments": run_dir / "segments.parquet", "ledger": run_dir / "ledger.csv"}
    corpus.segments.to_parquet(paths["segments"], index=False)
    corpus.ledger.to_csv(paths["ledger"], index=False)
    return paths


# --- accounting: ids and origins -----------------------------------------------------------------


def check_unique_ids(documents: list[RawDocument]) -> None:
    """Refuse two input documents with the same id (skipped files excepted), naming where both came from."""
    documents = [d for d in documents if d.status != "skipped"]  # skipped files are named by path
    raise_on_duplicate_ids([d.doc_id for d in documents], [origin(d, None) for d in documents],
                            fix="make the id column unique, or set id_prefix per input in the description")  # fmt: skip


def origin(document: RawDocument, root: Path | None) -> str:
    """Where a document came from, relative to `root`: `path/file.csv:row 17` or `path/file.txt`."""
    path = _relative(document.path, root) if root is not None else document.path.as_posix()
    return f"{path}:row {document.row}" if document.row is not None else path


@functools.lru_cache(maxsize=4096)
def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path.resolve(), root)).as_posix()


# --- cleaning, segmenting, accounting --------------------------------------------------------------


@dataclass(frozen=True)
class _Cleaned:
    document: RawDocument
    text: str = ""
    removed: tuple = ()  # tuple[RemovedPiece, ...]


def _clean_all(
    documents: list[RawDocument], config: CorpusConfig, progress: bool, repeated: dict | None = None
) -> list[_Cleaned]:
    """Clean each pending document with its source's repeated lines; mark empty and all-furniture ones.

    `repeated`: the repeated lines per source, when computed over more documents than these (the
    partitioned corpus stage of `analysis.compute` cleans a block of documents at a time)."""
    repeated = _repeated_lines(documents, config) if repeated is None else repeated
    cleaned = []
    for d in tqdm(documents, desc="cleaning", unit="doc", disable=not progress):
        if d.status:
            cleaned.append(_Cleaned(d))
        elif not d.text.strip():
            cleaned.append(
                _Cleaned(dataclasses.replace(d, status="empty", reason="empty or whitespace-only text"))
            )
        else:
            result = clean_text(d.text, repeated_lines=repeated[d.source])
            if not result.text.strip():
                status = "boilerplate" if result.removed else "empty"
                reason = "only page furniture" if result.removed else "no text after normalisation"
                d = dataclasses.replace(d, status=status, reason=reason)
            cleaned.append(_Cleaned(d, result.text, result.removed))
    return cleaned


def _repeated_lines(documents: list[RawDocument], config: CorpusConfig) -> dict[str, Any]:
    """Page furniture per source: lines repeated across that source's pending documents."""
    by_source: dict[str, list[str]] = {}
    for d in documents:
        if not d.status and d.text.strip():
            by_source.setdefault(d.source, []).append(d.text)
    return {
        s: find_repeated_lines(
            texts, min_docs=config.repeated_line_min_docs, min_share=config.repeated_line_min_share
        )
        for s, texts in by_source.items()
    }


def _segment_all(
    cleaned: list[_Cleaned], config: CorpusConfig, root: Path, progress: bool, implausible: dict[str, str]
) -> pd.DataFrame:
    """The segment table; documents whose date falls outside the plausible range go into `implausible`."""
    rows: list[dict[str, Any]] = []
    earliest, latest = config.date_range()
    for c in tqdm(cleaned, desc="segmenting", unit="doc", disable=not progress):
        d = c.document
        if d.status:
            continue
        parsed = parse_date(d.date_raw, languages=config.languages)
        if parsed.value is not None and not earliest <= parsed.value <= latest:
            implausible[d.doc_id] = (f"{_IMPLAUSIBLE} {parsed.raw!r} ({parsed.value.isoformat()}, outside "
                                     f"{earliest.isoformat()}…{latest.isoformat()}): kept raw, date unknown")  # fmt: skip
            parsed = dataclasses.replace(parsed, value=None, precision="")
        spans = split_segments(c.text, config.segment_by, config.min_segment_chars, config.max_segment_chars)
        for index, (start, end) in enumerate(spans):
            rows.append({
                "doc_id": d.doc_id, "segment_id": f"{d.doc_id}#{index}", "segment_index": index,
                "text": c.text[start:end], "char_start": start, "char_end": end, "language": "",
                "doc_language": d.language, "darija": False, "script": "", "source": d.source,
                "date": pd.Timestamp(parsed.value) if parsed.value else pd.NaT,
                "date_precision": parsed.precision, "date_raw": parsed.raw, "title": d.title, "url": d.url,
                "origin": origin(d, root), "duplicate_of": "", **d.extra,
            })  # fmt: skip
    segments = pd.DataFrame(rows, columns=list(SEGMENT_COLUMNS) + _extra_columns(cleaned))
    guesses = detect_languages(segments["text"].tolist(), languages=config.languages) if rows else []
    # A declared document language stands unless the detector is confident the segment differs
    # (short titles full of names fool it); undeclared documents take each segment's own guess.
    declared = segments["doc_language"].tolist()
    segments["language"] = [
        g.language if not d or g.confidence >= _OWN_LANGUAGE_MIN_CONFIDENCE else d
        for g, d in zip(guesses, declared, strict=True)
    ]
    segments["darija"] = [g.darija for g in guesses]
    segments["script"] = [g.script for g in guesses]
    segments["doc_language"] = _document_languages(segments)
    return _typed(segments)


def _extra_columns(cleaned: list[_Cleaned]) -> list[str]:
    return list(dict.fromkeys(k for c in cleaned if not c.document.status for k in c.document.extra))


def _document_languages(segments: pd.DataFrame) -> pd.Series:
    """The declared language where given, else the most common segment language of the document."""
    if segments.empty:
        return segments["doc_language"]
    counted = segments[segments["language"] != "und"] if (segments["language"] != "und").any() else segments
    counts = (
        counted.groupby(["doc_id", "language"], sort=False).size().sort_values(ascending=False, kind="stable")
    )
    majority = counts.reset_index().drop_duplicates("doc_id").set_index("doc_id")["language"]
    detected = segments["doc_id"].map(majority).fillna("und")
    return segments["doc_language"].where(segments["doc_language"] != "", detected)


def _typed(segments: pd.DataFrame) -> pd.DataFrame:
    types = {"segment_index": "int64", "char_start": "int64", "char_end": "int64", "darija": "bool",
             "date": "datetime64[ns]"}  # fmt: skip
    for column in segments.columns:
        segments[column] = segments[column].astype(types.get(column, "str"))
    return segments


def _ledger(
    cleaned: list[_Cleaned], segments: pd.DataFrame, root: Path, implausible: dict[str, str]
) -> pd.DataFrame:
    """One row per input document (its status) followed by one row per piece cut from it."""
    n_segments = segments.groupby("doc_id", sort=False).size().to_dict()
    duplicates = segments[~is_original(segments)]
    original_doc = duplicates["duplicate_of"].str.rsplit("#", n=1).str[0]
    n_duplicate = duplicates.groupby("doc_id", sort=False).size().to_dict()
    duplicated_from = original_doc.groupby(duplicates["doc_id"], sort=False).agg(
        lambda s: s.value_counts().index[0]
    )
    rows = []
    for c in cleaned:
        d = c.document
        where = origin(d, root)
        status, reason, n = d.status or "used", d.reason, n_segments.get(d.doc_id, 0)
        if status == "used" and n and n_duplicate.get(d.doc_id, 0) == n:
            status, reason = "duplicate", f"duplicate of {duplicated_from[d.doc_id]}"
        detail = "; ".join(part for part in (d.detail, implausible.get(d.doc_id, "")) if part)
        rows.append((d.doc_id, where, "document", status, reason, detail, n))
        rows += [(d.doc_id, where, "piece", "boilerplate", p.reason, p.text[:200], 0) for p in c.removed]
        if status == "used" and n_duplicate.get(d.doc_id, 0):
            mine = duplicates[duplicates["doc_id"] == d.doc_id]
            rows += [(d.doc_id, where, "piece", "duplicate", f"duplicate of {o}", t[:200], 0)
                     for o, t in zip(mine["duplicate_of"], mine["text"], strict=True)]  # fmt: skip
    return pd.DataFrame(rows, columns=list(LEDGER_COLUMNS)).astype({"n_segments": "int64"})


def _check_ledger(ledger: pd.DataFrame, segments: pd.DataFrame, n_inputs: int) -> None:
    documents = ledger[ledger["kind"] == "document"]
    if len(documents) != n_inputs:
        raise RuntimeError(f"internal error: ledger has {len(documents)} document rows for {n_inputs} inputs")
    accounted = set(documents.loc[documents["status"].isin(["used", "duplicate"]), "doc_id"])
    missing = set(segments["doc_id"]) - accounted
    if missing:
        raise RuntimeError(
            f"internal error: segments of {sorted(missing)[:5]} have no used/duplicate ledger row"
        )


def summarise(corpus: Corpus) -> dict[str, Any]:
    """Documents in / used / excluded by reason; segments by language, source and month; dates."""
    ledger, segments = corpus.ledger, corpus.segments
    documents = ledger[ledger["kind"] == "document"]
    status = documents["status"].value_counts()
    excluded = documents[documents["status"] != "used"]
    reasons = (
        excluded["status"]
        + ": "
        + excluded["reason"].where(excluded["status"] != "duplicate", "duplicate of an earlier document")
    )
    pieces = ledger[ledger["kind"] == "piece"]
    piece_reasons = (
        pieces["status"]
        + ": "
        + pieces["reason"].where(pieces["status"] != "duplicate", "duplicate of an earlier segment")
    )
    first = segments.drop_duplicates("doc_id")
    implausible = set(documents.loc[documents["detail"].str.contains(_IMPLAUSIBLE, regex=False), "doc_id"])
    undated = first[first["date"].isna() & (first["date_raw"].str.strip() != "")]
    unparsed = undated[~undated["doc_id"].isin(implausible)]
    outside = undated[undated["doc_id"].isin(implausible)]
    months = segments["date"].dt.strftime("%Y-%m").fillna("unknown")
    return {
        "name": corpus.name,
        "inputs": list(corpus.inputs),
        "documents": {
            "inputs": len(documents),
            "used": int(status.get("used", 0)),
            "duplicate": int(status.get("duplicate", 0)),
            "excluded": int(len(documents) - status.get("used", 0)),
        },
        "documents_by_status": {k: int(v) for k, v in status.items()},
        "excluded_by_reason": {k: int(v) for k, v in reasons.value_counts().items()},
        "pieces_by_reason": {k: int(v) for k, v in piece_reasons.value_counts().items()},
        "segments": {
            "total": len(segments),
            "modelled": int(is_original(segments).sum()),
            "duplicates": int((~is_original(segments)).sum()),
        },
        "segments_by_language": {k: int(v) for k, v in segments["language"].value_counts().items()},
        "segments_by_source": {k: int(v) for k, v in segments["source"].value_counts().items()},
        "segments_by_month": {k: int(v) for k, v in months.value_counts().sort_index().items()},
        "dates": {
            "documents_with_date": int(first["date"].notna().sum()),
            "documents_without_date": int(first["date"].isna().sum()),
            "unparsed": len(unparsed),
            "unparsed_examples": unparsed["date_raw"].head(5).tolist(),
            "implausible": len(outside),
            "implausible_examples": outside["date_raw"].head(5).tolist(),
        },
    }


def require_segments(corpus: Corpus) -> None:
    """Refuse a corpus with nothing to model, saying why each document was excluded."""
    if is_original(corpus.segments).any():
        return
    documents = corpus.ledger[corpus.ledger["kind"] == "document"]
    reasons = (documents["status"] + ": " + documents["reason"]).value_counts()
    shown = "; ".join(f"{n} {reason}" for reason, n in reasons.head(4).items())
    raise CorpusError(
        f"{corpus.name}: no text left to model — all {len(documents)} input documents were excluded "
        f"({shown}); the ledger (ledger.csv in the run folder) gives each document's reason"
    )
