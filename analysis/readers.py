"""Bytes to text, and text to tables: the low-level readers of `analysis.corpus`.

`decode_bytes` finds how a file's bytes are text (UTF-8 with or without BOM, UTF-16/UTF-32 with or
without BOM, a detected legacy encoding) or says why they are not; `load_table` reads a CSV, TSV,
JSON lines or Parquet file with every value kept as written and the malformed rows named, never
shifted. Errors are `CorpusError`s naming the file and line.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

_LIKELY_ENCODINGS = ("cp1256", "iso8859_6", "cp1252", "iso8859_15", "latin_1")
_BINARY_NUL_SHARE = 0.01  # more NUL bytes than this in a non-UTF-16 file: binary, not text
_BINARY_CONTROL_SHARE = 0.05  # decoded "text" with this share of control characters: binary
# UTF-16/UTF-32 without a BOM is accepted when this share of its characters belongs to the scripts
# of news text (Latin, Arabic, Tifinagh, digits, punctuation, spaces); random bytes read as UTF-16
# are mostly CJK and unassigned code points.
_WIDE_TEXT_SHARE = 0.95
_NEWS_SCRIPTS = ("LATIN", "ARABIC", "TIFINAGH", "DIGIT")


class CorpusError(ValueError):
    """A source that cannot be read as asked; the message names the file, row or column and the fix."""


@dataclass(frozen=True)
class Decoded:
    """File bytes as text, the encoding used, and why not when the bytes are not text."""

    text: str
    encoding: str
    problem: str = ""


def decode_bytes(data: bytes) -> Decoded:
    """UTF-8 (BOM or not), UTF-16/32 (BOM or not), else the encoding charset-normalizer detects.

    Bytes that are mostly NULs or control characters are binary, not text (problem set).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return _decoded(data[3:], "utf-8", "UTF-8 with BOM")
    boms = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
            (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))  # fmt: skip
    for bom, codec in boms:
        if data.startswith(bom):
            try:
                return _decoded(data[len(bom) :], codec, f"{codec.upper()} (BOM)")
            except UnicodeDecodeError:
                break
    wide = _wide_text_without_bom(data)
    if wide is not None:
        return wide
    try:
        return _decoded(data, "utf-8", "utf-8")
    except UnicodeDecodeError:
        pass
    nuls = data.count(0)
    if nuls > _BINARY_NUL_SHARE * len(data):
        return Decoded("", "", f"binary file ({nuls} NUL bytes in {len(data)})")
    from charset_normalizer import from_bytes

    # The legacy encodings of this project's languages first (Arabic, Western European): on short
    # French text unrestricted detection picks cp1250 ("ministčre"); then any encoding.
    best = from_bytes(data, cp_isolation=list(_LIKELY_ENCODINGS)).best() or from_bytes(data).best()
    if best is None:
        return Decoded("", "", "not UTF-8 and undetectable encoding (binary, or save it as UTF-8)")
    try:
        return _decoded(data, best.encoding, f"{best.encoding} (detected; not UTF-8)")
    except UnicodeDecodeError:
        return Decoded("", "", f"not UTF-8 and undetectable encoding (tried {best.encoding})")


def _wide_text_without_bom(data: bytes) -> Decoded | None:
    """UTF-32 or UTF-16 (either byte order) without a BOM, recognised by what it decodes to.

    Tried only when the bytes hold NULs or other C0 controls, which UTF-8 text does not: ASCII in
    UTF-16 has a NUL every other byte, Arabic in UTF-16-LE a 0x06 byte.
    """
    sample = data[:4096]
    if not sample or sum(1 for b in sample if b < 9 or 13 < b < 32) < 0.1 * len(sample):
        return None
    for codec, width in (("utf-32-le", 4), ("utf-32-be", 4), ("utf-16-le", 2), ("utf-16-be", 2)):
        if len(data) % width:
            continue
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if text and _news_text_share(text[:2000]) >= _WIDE_TEXT_SHARE:
            return Decoded(text, f"{codec.upper()} (detected, no BOM)")
    return None


def _news_text_share(text: str) -> float:
    def is_news(ch: str) -> bool:
        if ch.isspace() or unicodedata.category(ch)[0] in "PN" or (" " <= ch <= "~"):
            return True
        return unicodedata.name(ch, "").startswith(_NEWS_SCRIPTS)

    return sum(map(is_news, text)) / len(text)


def _decoded(data: bytes, codec: str, label: str) -> Decoded:
    text = data.decode(codec)
    controls = sum(1 for ch in text if ch < " " and ch not in "\t\n\r\f\v")
    if text and controls > _BINARY_CONTROL_SHARE * len(text):
        return Decoded("", "", f"binary file ({controls} control characters in {len(text)})")
    return Decoded(text, label)


def load_table(path: Path, suffix: str) -> tuple[pd.DataFrame, str, dict[int, str]]:
    """The table, the encoding it was decoded from, and {data row: problem} for malformed rows."""
    if suffix == ".parquet":
        try:
            return pd.read_parquet(path), "", {}
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise CorpusError(f"{path}: cannot read as Parquet ({exc}); check the file") from exc
    data = path.read_bytes()
    decoded = decode_bytes(data)
    if decoded.problem:
        raise CorpusError(f"{path}: {decoded.problem}; save the table as UTF-8 text")
    if suffix == ".jsonl":
        return _read_jsonl(path, decoded.text), decoded.encoding, {}
    table, bad_rows = read_csv_table(path, decoded, "\t" if suffix == ".tsv" else ",")
    return table, decoded.encoding, bad_rows


def _read_jsonl(path: Path, text: str) -> pd.DataFrame:
    """One JSON object per line; numbers kept as written ("1.0" stays "1.0"); errors name the line."""
    records = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_float=str, parse_int=str)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path}: line {number}: not valid JSON ({exc.msg} at column {exc.colno}); "
                              "write one JSON object per line") from None  # fmt: skip
        if not isinstance(record, dict):
            raise CorpusError(f"{path}: line {number}: a JSON {type(record).__name__}, not an object; "
                              'write one object per line, e.g. {"id": "a1", "text": "…"}')  # fmt: skip
        records.append(record)
    if not records:
        raise CorpusError(f"{path}: no JSON objects; write one object per line")
    return pd.DataFrame.from_records(records).astype(object)


def read_csv_table(path: Path, data: bytes | Decoded, separator: str) -> tuple[pd.DataFrame, dict[int, str]]:
    """Every value as text, and {data row: problem} for rows whose field count differs from the header.

    Read with the csv module rather than pandas, which would make an extra field the index and
    shift the row's columns, or drop the extra fields.
    """
    decoded = decode_bytes(data) if isinstance(data, bytes) else data
    if decoded.problem:
        raise CorpusError(f"{path}: {decoded.problem}; save the table as UTF-8 text")
    reader = csv.reader(io.StringIO(decoded.text, newline=""), delimiter=separator, strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    bad_rows: dict[int, str] = {}
    line = 1
    try:
        for record in reader:
            first_line, line = line, reader.line_num + 1
            if not record:
                continue  # a blank line
            if header is None:
                header = _column_names(record)
                continue
            if len(record) != len(header):
                bad_rows[len(rows) + 1] = (f"line {first_line}: {len(record)} fields where the header has "
                                           f"{len(header)}; check the separators and quoting of that row")  # fmt: skip
                record = (record + [""] * len(header))[: len(header)]
            rows.append(record)
    except csv.Error as exc:
        raise CorpusError(f"{path}: line {reader.line_num}: cannot read as a table ({exc}); check the quoting "
                          "(a field with the separator or a line break must be in double quotes)") from None  # fmt: skip
    if header is None:
        raise CorpusError(f"{path}: empty file, no header row; the first line names the columns")
    return pd.DataFrame(rows, columns=header, dtype=str), bad_rows


def _column_names(header: list[str]) -> list[str]:
    """Header names as pandas makes them: blank → "Unnamed: i", repeats → "name.1"."""
    names: list[str] = []
    for i, name in enumerate(header):
        name = name if name.strip() else f"Unnamed: {i}"
        base, n = name, 0
        while name in names:
            n += 1
            name = f"{base}.{n}"
        names.append(name)
    return names


def cell(value: object) -> str:
    """A table value as text; missing values (None, NaN, NaT) are ""; a list's items joined by "; "."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return "; ".join(text for item in value if (text := cell(item)))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)
