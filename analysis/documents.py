"""Read a SOURCE into raw documents: `read_documents(source) -> (name, inputs, [RawDocument])`.

SOURCE is one of:

- a folder of `.txt`, `.md`, `.html`, `.htm` files, with an optional `manifest.csv` (columns `file`
  and any of `id, language, source, date, title, url`; other columns are kept as segment columns, renamed
  `input_<name>` when they clash with a segment column). With a manifest, exactly the listed files are
  read; without one, every supported file except README/SOURCE/LICENSE notes, with `doc_id` = file
  stem, `source` = folder name, and title and date taken from the page for HTML. HTML main text and
  title come from trafilatura, the date from htmldate. Every other entry (notes, other suffixes,
  hidden files, files in subfolders) is a `skipped` ledger row with the reason; subfolders are read
  only with `recursive = true` in a description (`doc_id` = path without suffix, `2020/a`). A link
  leading out of the folder is refused, with or without a manifest.
- a table: `.csv`, `.tsv`, `.jsonl`, `.parquet`, with a `text` column (and optionally `id, title,
  date, url, source, language`; other columns are kept). Other layouts need a corpus description.
- a corpus description `.toml`: several inputs, each with its column mapping. Paths are relative to
  the description file. Schema (only `path` is required; `[config]` holds run settings, read by
  `RunConfig.from_toml`, and is ignored here)::

      name = "morocco-news"                  # corpus name (default: the file's stem)
      [[input]]
      path = "data/*.csv"                    # a file, a glob, a folder (folder rules as above),
                                             # or a list of them
      text = ["title", "resume"]             # column(s) joined as paragraphs; default "text"
      id = "id"                              # id column; default "<file stem>:<row>"
      id_prefix = "fr-"                      # optional, prepended to ids (to keep them unique)
      title = "title"                        # title column
      date = "date"                          # date column (parsed by analysis.text.parse_date)
      url = "url"                            # URL column
      source = "Hespress"                    # = { constant = "Hespress" }; or { column = "author" };
                                             # or { from = "filename", names = { bladi = "Bladi.net" } }
                                             #   (file stem → label; an unlisted stem is its own label)
      language = "fr"                        # declared language; or { column = "lang" }
      keep = ["topic"]                       # extra columns kept; or { section = "topic" } to rename

  Folder inputs accept only `path`, `source` (a constant), `language`, `id_prefix` and `recursive`
  (read subfolders too; default false).

Tables are read with every value as text (ids stay as written: `007`, `1.0`); a CSV row whose field
count differs from the header is an `invalid` ledger row naming its line, never a column shift; a
blank id is an `invalid` row; a list-valued text cell (Parquet, JSON) is joined as paragraphs; a JSON
lines error names the line. Dates outside `[corpus] earliest_date`…`latest_date` are implausible:

A source that cannot be read as asked (missing path, missing column, duplicate ids, unsafe
manifest) raises `CorpusError`; files that cannot be decoded are documents with a status, not errors.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import os
import tomllib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.readers import CorpusError, cell, decode_bytes, load_table, read_csv_table
from analysis.schema import SEGMENT_COLUMNS

DOCUMENT_SUFFIXES = (".txt", ".md", ".html", ".htm")
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")
_NOT_DOCUMENTS = {"readme", "source", "license", "licence"}  # notes beside the files, by stem
_MANIFEST_COLUMNS = {"id", "file", "language", "source", "date", "title", "url"}
_TABLE_KEYS = {"path", "text", "id", "id_prefix", "title", "date", "url", "source", "language", "keep"}
_FOLDER_KEYS = {"path", "source", "language", "id_prefix", "recursive"}


@dataclass(frozen=True)
class RawDocument:
    """One input document before cleaning; `status` is set when it is already known to be excluded."""

    doc_id: str
    path: Path
    row: int | None  # 1-based data row of a table, None for a file
    text: str
    source: str
    date_raw: object = ""
    title: str = ""
    url: str = ""
    language: str = ""  # declared; "" to detect
    extra: dict[str, str] = field(default_factory=dict)
    status: str = ""
    reason: str = ""
    detail: str = ""


@dataclass(frozen=True)
class _SourceRule:
    constant: str | None = None
    column: str | None = None
    names: dict[str, str] | None = None  # from the file name: stem → label


@dataclass(frozen=True)
class _Mapping:
    """How the columns of a table become documents."""

    text: tuple[str, ...] = ("text",)
    id: str = ""
    id_prefix: str = ""
    title: str = ""
    date: str = ""
    url: str = ""
    source: _SourceRule = _SourceRule(names={})
    language: str = ""
    language_column: str = ""
    keep: dict[str, str] = field(default_factory=dict)  # segment column → input column




def read_documents(source: str | Path) -> tuple[str, list[str], list[RawDocument]]:
    """The raw documents of SOURCE (folder, table or description), its name and its input files."""
    name, units = read_units(source)
    documents = [document for unit in units for document in unit()]
    return name, _inputs(documents), documents


def read_units(source: str | Path) -> tuple[str, list[functools.partial]]:
    """SOURCE's name and its reading units (one per table file or folder), each a call returning
    that unit's documents: `analysis.compute` runs them on the workers, one task per file."""
    path = Path(source)
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder; give a folder, a table (.csv/.tsv/.jsonl/"
                          ".parquet) or a corpus description (.toml)")  # fmt: skip
    if path.is_dir():
        return path.resolve().name, [functools.partial(_read_folder, path, _SourceRule(), "", "")]
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return _description_units(path)
    if suffix in TABLE_SUFFIXES:
        return path.stem, [functools.partial(_read_table, path, None)]
    if suffix in DOCUMENT_SUFFIXES:
        raise CorpusError(f"{path}: a single document; put it in a folder and give the folder")
    raise CorpusError(f"{path}: unsupported file type {suffix!r}; give a folder, a table "
                      f"({', '.join(TABLE_SUFFIXES)}) or a corpus description (.toml)")  # fmt: skip


# --- reading ---------------------------------------------------------------------------------------


def _inputs(documents: Iterable[RawDocument]) -> list[str]:
    return list(dict.fromkeys(os.path.normpath(d.path) for d in documents))


def _read_folder(
    folder: Path, source: _SourceRule, language: str, id_prefix: str, *, recursive: bool = False
) -> list[RawDocument]:
    """Every file of a folder: documents read, everything else a `skipped` ledger row with the reason."""
    manifest = folder / "manifest.csv"
    if manifest.is_file():
        return _read_manifest(folder, manifest, source, language, id_prefix)
    label = source.constant or folder.resolve().name
    documents = []
    for path, reason in _folder_entries(folder, recursive):
        relative = path.relative_to(folder)
        if reason:
            documents.append(RawDocument(doc_id=f"{id_prefix}{relative.as_posix()}", path=path, row=None,
                                         text="", source=label, status="skipped", reason=reason))  # fmt: skip
            continue
        doc_id = relative.with_suffix("").as_posix() if len(relative.parts) > 1 else path.stem
        documents.append(_read_file(path, f"{id_prefix}{doc_id}", label, language=language))
    if not any(d.status != "skipped" for d in documents):
        skipped = f" ({len(documents)} other files skipped: see the ledger)" if documents else ""
        raise CorpusError(f"{folder}: no documents ({', '.join(DOCUMENT_SUFFIXES)} files) and no manifest.csv"
                          f"{skipped}; add text files, or give a table or a corpus description instead"
                          " (recursive = true in a description reads subfolders)")  # fmt: skip
    return documents


def _folder_entries(folder: Path, recursive: bool) -> list[tuple[Path, str]]:
    """(file, why it is skipped or "") for every entry under `folder`, in name order.

    A link leading outside the folder is refused, as a manifest row naming such a file is.
    """
    root = folder.resolve()
    found: list[tuple[Path, str]] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.is_symlink() and not entry.resolve().is_relative_to(root):
            raise CorpusError(f"{entry}: a link to {entry.resolve()}, which is outside the corpus folder "
                              f"{folder}; copy the file into the folder instead")  # fmt: skip
        if entry.name.startswith("."):
            found.append((entry, "hidden file or folder, not read"))
        elif entry.is_dir():
            if entry.is_symlink():
                found.append((entry, "a link to a folder, not followed"))
            elif recursive:
                found += _folder_entries(entry, recursive)
            else:
                found += [(p, "in a subfolder; set recursive = true for the folder in a corpus description "
                              "to read subfolders") for p, _ in _folder_entries(entry, True)]  # fmt: skip
        elif not entry.is_file():
            found.append((entry, "not a regular file"))
        elif entry.suffix.lower() not in DOCUMENT_SUFFIXES:
            found.append((entry, f"not a document type ({entry.suffix or 'no suffix'}); read: "
                                 f"{', '.join(DOCUMENT_SUFFIXES)}"))  # fmt: skip
        elif entry.stem.lower() in _NOT_DOCUMENTS:
            found.append((entry, "a note beside the documents (README/SOURCE/LICENSE), not an article"))
        else:
            found.append((entry, ""))
    return found


def _read_manifest(
    folder: Path, manifest: Path, source: _SourceRule, language: str, id_prefix: str
) -> list[RawDocument]:
    table, bad_rows = read_csv_table(manifest, manifest.read_bytes(), ",")
    if bad_rows:
        row, problem = next(iter(bad_rows.items()))
        raise CorpusError(f"{manifest}:row {row}: {problem}")
    if "file" not in table.columns:
        raise CorpusError(f"{manifest}: no 'file' column (columns: {', '.join(table.columns)}); "
                          "name each document's file in a 'file' column")  # fmt: skip
    ids = [str(v).strip() or Path(str(f)).stem for v, f in
           zip(table.get("id", table["file"]), table["file"], strict=True)]  # fmt: skip
    raise_on_duplicate_ids([f"{id_prefix}{i}" for i in ids], [f"{manifest}:row {r + 1}" for r in range(len(ids))],
                            fix="give each manifest row its own id")  # fmt: skip
    extras = [c for c in table.columns if c not in _MANIFEST_COLUMNS]
    folder_resolved = folder.resolve()
    documents = []
    for r, (doc_id, record) in enumerate(zip(ids, table.to_dict("records"), strict=True), start=1):
        file = folder / str(record["file"]).strip()
        if not file.resolve().is_relative_to(folder_resolved):
            link = f" (a link to {file.resolve()})" if file.is_symlink() else ""
            raise CorpusError(f"{manifest}:row {r}: file {record['file']!r}{link} is outside the corpus folder "
                              f"{folder}; move the file into the folder and name it relative to it")  # fmt: skip
        if not file.is_file():
            raise CorpusError(f"{manifest}:row {r}: file {record['file']!r} does not exist in {folder}; "
                              "fix the name or remove the row")  # fmt: skip
        documents.append(
            _read_file(
                file,
                f"{id_prefix}{doc_id}",
                source.constant or cell(record.get("source")) or folder_resolved.name,
                language=language or cell(record.get("language")),
                date_raw=cell(record.get("date")),
                title=cell(record.get("title")),
                url=cell(record.get("url")),
                extra={_extra_name(c): cell(record[c]) for c in extras},
            )
        )
    return documents


def _read_file(path: Path, doc_id: str, source: str, **fields: Any) -> RawDocument:
    document = RawDocument(doc_id=doc_id, path=path, row=None, text="", source=source, **fields)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return dataclasses.replace(
            document, status="unreadable", reason=f"cannot read the file ({exc.strerror or exc})"
        )
    decoded = decode_bytes(data)
    if decoded.problem:
        return dataclasses.replace(document, status="unreadable", reason=decoded.problem)
    detail = "" if decoded.encoding in ("utf-8", "UTF-8 with BOM") else f"decoded as {decoded.encoding}"
    if decoded.encoding == "UTF-8 with BOM":
        detail = "UTF-8 with BOM"
    if path.suffix.lower() not in (".html", ".htm"):
        return dataclasses.replace(document, text=decoded.text, detail=detail)
    import htmldate
    import trafilatura

    page = trafilatura.bare_extraction(decoded.text, with_metadata=True, include_comments=False)
    text = (page.text or "") if page is not None else ""
    if not text.strip():
        return dataclasses.replace(
            document, status="empty", reason="HTML page with no main text", detail=detail
        )
    return dataclasses.replace(
        document,
        text=text.replace("\n", "\n\n"),  # trafilatura puts one paragraph per line
        title=document.title or (page.title or ""),
        date_raw=document.date_raw or htmldate.find_date(decoded.text, original_date=True) or "",
        detail=detail,
    )


def _description_units(path: Path) -> tuple[str, list[functools.partial]]:
    try:
        data = tomllib.loads(decode_bytes(path.read_bytes()).text)
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"{path}: not valid TOML ({exc})") from exc
    unknown = set(data) - {"name", "description", "input", "config"}
    if unknown:
        raise CorpusError(
            f"{path}: unknown key(s) {sorted(unknown)}; valid: name, description, [[input]], [config]"
        )
    entries = data.get("input")
    if not isinstance(entries, list) or not entries:
        raise CorpusError(f"{path}: no [[input]] entries; add one per file, glob or folder with its mapping")
    units: list[functools.partial] = []
    for n, entry in enumerate(entries, start=1):
        where = f"{path} [[input]] #{n}"
        if "path" not in entry:
            raise CorpusError(f"{where}: missing 'path' (a file, glob or folder relative to {path.parent})")
        patterns = entry["path"] if isinstance(entry["path"], list) else [entry["path"]]
        for target in (t for pattern in patterns for t in _expand(path.parent, str(pattern), where)):
            if target.is_dir():
                units.append(functools.partial(_read_folder_entry, target, entry, where))
            else:
                units.append(functools.partial(_read_table, target, _mapping(entry, where)))
    return str(data.get("name") or path.stem), units


def source_folders(source: str | Path) -> list[Path]:
    """The folders SOURCE reads documents from (itself, or a description's folder inputs)."""
    path = Path(source)
    if path.is_dir():
        return [path]
    if path.suffix.lower() != ".toml" or not path.is_file():
        return []
    try:
        data = tomllib.loads(decode_bytes(path.read_bytes()).text)
    except tomllib.TOMLDecodeError:
        return []  # read_documents reports it
    folders = []
    for n, entry in enumerate(data.get("input", []) if isinstance(data.get("input"), list) else [], start=1):
        patterns = entry.get("path", []) if isinstance(entry, dict) else []
        for pattern in patterns if isinstance(patterns, list) else [patterns]:
            found = _expand(path.parent, str(pattern), f"{path} [[input]] #{n}")
            folders += [target for target in found if target.is_dir()]
    return folders


def _expand(base: Path, pattern: str, where: str) -> list[Path]:
    full = base / pattern
    if glob.has_magic(pattern):
        parts = Path(pattern).parts
        fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
        found = sorted(base.joinpath(*parts[:fixed]).glob(str(Path(*parts[fixed:]))))
        if not found:
            raise CorpusError(f"{where}: path {pattern!r} matches no file (looked in {full.parent})")
        return found
    if not full.exists():
        raise CorpusError(f"{where}: path {pattern!r} does not exist ({full}); paths are relative to the "
                          "description file")  # fmt: skip
    return [full]


def _read_folder_entry(folder: Path, entry: dict[str, Any], where: str) -> list[RawDocument]:
    unknown = set(entry) - _FOLDER_KEYS
    if unknown:
        raise CorpusError(
            f"{where}: {sorted(unknown)} apply to tables only; a folder takes {sorted(_FOLDER_KEYS)}"
        )
    source = entry.get("source", {})
    if isinstance(source, dict) and set(source) - {"constant"}:
        raise CorpusError(f'{where}: a folder\'s source must be a constant (source = "Label")')
    constant = source if isinstance(source, str) else source.get("constant")
    language = entry.get("language", "")
    if not isinstance(language, str):
        raise CorpusError(f'{where}: a folder\'s language must be a code such as "fr"')
    recursive = entry.get("recursive", False)
    if not isinstance(recursive, bool):
        raise CorpusError(f"{where}: recursive = {recursive!r} must be true or false")
    id_prefix = _string_key(entry, "id_prefix", where)
    return _read_folder(folder, _SourceRule(constant=constant), language, id_prefix, recursive=recursive)


def _string_key(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str):
        raise CorpusError(f"{where}: {key} = {value!r} must be a string (a column name or text in quotes)")
    return value


def _mapping(entry: dict[str, Any], where: str) -> _Mapping:
    unknown = set(entry) - _TABLE_KEYS
    if unknown:
        raise CorpusError(
            f"{where}: unknown key(s) {sorted(unknown)}; valid: {', '.join(sorted(_TABLE_KEYS))}"
        )
    text = entry.get("text", "text")
    text = (text,) if isinstance(text, str) else text
    if not isinstance(text, (list, tuple)) or not text or not all(isinstance(c, str) and c for c in text):
        raise CorpusError(f'{where}: text = {entry.get("text")!r}: give the text column, or a list of columns '
                          'joined as paragraphs (text = ["title", "body"])')  # fmt: skip
    text = tuple(text)
    source = entry.get("source", {"from": "filename"})
    if isinstance(source, str):
        rule = _SourceRule(constant=source)
    elif isinstance(source, dict) and len({"constant", "column", "from"} & set(source)) == 1:
        if source.get("from", "filename") != "filename":
            raise CorpusError(f'{where}: source.from must be "filename", got {source["from"]!r}')
        rule = _SourceRule(source.get("constant"), source.get("column"), dict(source.get("names", {})))
    else:
        raise CorpusError(f'{where}: source must be "Label", {{ constant = "Label" }}, {{ column = "name" }} '
                          'or { from = "filename", names = { stem = "Label" } }')  # fmt: skip
    language = entry.get("language", "")
    if not (isinstance(language, str) or (isinstance(language, dict) and set(language) == {"column"}
                                          and isinstance(language["column"], str))):  # fmt: skip
        raise CorpusError(f'{where}: language = {language!r}: give a code such as "fr", or '
                          '{ column = "lang" }')  # fmt: skip
    keep = entry.get("keep", {})
    keep = {c: c for c in keep} if isinstance(keep, list) else keep
    if not isinstance(keep, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in keep.items()
    ):
        raise CorpusError(f'{where}: keep = {entry.get("keep")!r}: give a list of columns (keep = ["topic"]) or '
                          'a table of new names (keep = { section = "topic" })')  # fmt: skip
    fields = {key: _string_key(entry, key, where) for key in ("id", "id_prefix", "title", "date", "url")}
    return _Mapping(
        text=text,
        **fields,
        source=rule,
        language=language if isinstance(language, str) else "",
        language_column=language.get("column", "") if isinstance(language, dict) else "",
        keep=dict(keep),
    )


def _default_mapping(path: Path, columns: list[str]) -> _Mapping:
    """Mapping for a table given directly: standard column names where present, other columns kept."""
    if "text" not in columns:
        raise CorpusError(f"{path}: no 'text' column (columns: {', '.join(columns)}); rename the text column to "
                          "'text', or write a corpus description (.toml) with text = [\"title\", \"body\"] "
                          "(see examples/morocco-news.toml)")  # fmt: skip
    present = {c: c if c in columns else "" for c in ("id", "title", "date", "url")}
    standard = {"text", "id", "title", "date", "url", "source", "language"}
    return _Mapping(
        source=_SourceRule(column="source") if "source" in columns else _SourceRule(names={}),
        language_column="language" if "language" in columns else "",
        keep={_extra_name(c): c for c in columns if c not in standard and not c.startswith("Unnamed: ")},
        **present,
    )


def _read_table(path: Path, mapping: _Mapping | None) -> list[RawDocument]:
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise CorpusError(
            f"{path}: not a table ({', '.join(TABLE_SUFFIXES)}); use a folder entry for documents"
        )
    table, decoded, bad_rows = load_table(path, suffix)
    columns = [str(c) for c in table.columns]
    mapping = mapping or _default_mapping(path, columns)
    wanted = [*mapping.text, mapping.id, mapping.title, mapping.date, mapping.url, mapping.source.column or "",
              mapping.language_column, *mapping.keep.values()]  # fmt: skip
    missing = [c for c in wanted if c and c not in columns]
    if missing:
        raise CorpusError(f"{path}: column(s) {', '.join(map(repr, missing))} not found; the file has "
                          f"{', '.join(map(repr, columns))}; fix the mapping in the corpus description")  # fmt: skip
    if mapping.id and table[mapping.id].dtype.kind == "f":
        raise CorpusError(f"{path}: id column {mapping.id!r} holds floating-point numbers (e.g. "
                          f"{table[mapping.id].dropna().iloc[0] if table[mapping.id].notna().any() else 'NaN'}), "
                          "so ids are not kept as written; store the ids as text or integers")  # fmt: skip
    if mapping.source.column:
        source_of = None
    elif mapping.source.constant is not None:
        source_of = mapping.source.constant
    else:
        source_of = (mapping.source.names or {}).get(path.stem, path.stem)
    named = [c for c in columns if not c.startswith("Unnamed: ") and c.strip()]
    detail = "" if decoded in ("utf-8", "") else f"file decoded as {decoded}"
    documents = []
    for r, record in enumerate(table.to_dict("records"), start=1):
        raw_id = cell(record[mapping.id]) if mapping.id else f"{path.stem}:{r}"
        text, text_problem = _text_of(record, mapping.text)
        document = RawDocument(
            doc_id=f"{mapping.id_prefix}{raw_id}",
            path=path,
            row=r,
            text=text,
            source=source_of if source_of is not None else cell(record[mapping.source.column]),
            date_raw=record[mapping.date] if mapping.date else "",
            title=cell(record[mapping.title]) if mapping.title else "",
            url=cell(record[mapping.url]) if mapping.url else "",
            language=mapping.language
            or (cell(record[mapping.language_column]) if mapping.language_column else ""),
            extra={name: cell(record[c]) for name, c in mapping.keep.items()},
            detail=detail,
        )
        invalid = bad_rows.get(r, "")
        if (
            not invalid
            and suffix in (".csv", ".tsv")
            and named
            and all(cell(record[c]).strip() == c for c in named)
        ):
            invalid = "repeated header row"
        if not invalid and mapping.id and not raw_id.strip():
            invalid = f"blank id in column {mapping.id!r}; give every row an id"
        if not invalid and mapping.id and isinstance(record[mapping.id], (list, dict, np.ndarray)):
            invalid = f"id in column {mapping.id!r} is a list or object, not a string"
        invalid = invalid or text_problem
        if invalid:
            document = dataclasses.replace(document, doc_id=f"{path.stem}:{r}", status="invalid", reason=invalid,
                                           text="")  # fmt: skip
        elif not document.text.strip():
            document = dataclasses.replace(document, status="empty", reason="no text in the mapped column(s)")
        documents.append(document)
    return documents


def _text_of(record: dict[str, Any], columns: tuple[str, ...]) -> tuple[str, str]:
    """The mapped text columns joined as paragraphs (a list-valued cell: its items), or why not."""
    parts = []
    for column in columns:
        value = record[column]
        if isinstance(value, dict):
            return "", f"column {column!r} holds a JSON object, not text"
        if isinstance(value, (list, tuple, np.ndarray)):
            items = list(value)
            if not all(item is None or isinstance(item, (str, int, float)) for item in items):
                return "", f"column {column!r} holds a list of non-text values (nested lists or objects)"
            parts += [text for item in items if (text := cell(item).strip())]
        elif part := cell(value).strip():
            parts.append(part)
    return "\n\n".join(parts), ""


def _extra_name(column: str) -> str:
    return f"input_{column}" if column in SEGMENT_COLUMNS else column


def raise_on_duplicate_ids(ids: list[str], origins: list[str], *, fix: str) -> None:
    counts = Counter(ids)
    repeated = [i for i, n in counts.items() if n > 1]
    if repeated:
        shown = "; ".join(
            f"{i!r} at {', '.join(o for d, o in zip(ids, origins, strict=True) if d == i)}"
            for i in repeated[:3]
        )
        raise CorpusError(f"duplicate document ids ({len(repeated)}): {shown}; {fix}")
