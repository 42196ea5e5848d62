"""Every bad input of issue 2 item 10: a ledger outcome or a CorpusError naming file/row/column and fix."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

from analysis.config import CorpusConfig
from analysis.corpus import CorpusError, build_corpus

ARABIC = (
    "أعلنت وزارة الانتقال الرقمي عن استراتيجية وطنية للذكاء الاصطناعي تهدف إلى تكوين الكفاءات "
    "ودعم المقاولات الناشئة وتعزيز السيادة الرقمية للمملكة المغربية."
)
FRENCH = (
    "Le ministère a présenté une stratégie nationale d'intelligence artificielle, élaborée après "
    "une année de concertation avec les universités, les entreprises et la société civile."
)
ENGLISH = "The ministry presented a national artificial intelligence strategy after a year of consultation."
ENGLISH_2 = (
    "Data centres will be built near renewable power plants in the south of the kingdom, officials said."
)
FRENCH_2 = (
    "Les centres de données seront construits près des centrales solaires du sud, a précisé la ministre."
)
CONFIG = CorpusConfig(languages=("ar", "fr", "en"))


@pytest.fixture(scope="module")
def messy_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding one file per file-level defect, plus one clean file."""
    folder = tmp_path_factory.mktemp("messy")
    (folder / "clean.txt").write_text(ENGLISH, encoding="utf-8")
    (folder / "arabic_cp1256.txt").write_bytes(ARABIC.encode("cp1256"))
    (folder / "french_latin1.txt").write_bytes(FRENCH.encode("latin-1"))
    (folder / "bom.txt").write_bytes(b"\xef\xbb\xbf" + FRENCH_2.encode("utf-8"))
    (folder / "nul_bytes.txt").write_bytes(ENGLISH_2.replace(" ", " \x00", 3).encode("utf-8"))
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" * 50 + bytes(range(256)))
    (folder / "junk.html").write_bytes(random.Random(7).randbytes(4096))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "whitespace.md").write_text(" \n\t\n \u00a0 \n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def messy(messy_folder: Path):
    return build_corpus(messy_folder, CONFIG, progress=False)


def status_of(corpus, doc_id: str) -> pd.Series:
    ledger = corpus.ledger
    return ledger[(ledger["kind"] == "document") & (ledger["doc_id"] == doc_id)].iloc[0]


def text_of(corpus, doc_id: str) -> str:
    segments = corpus.segments
    return "\n\n".join(segments.loc[segments["doc_id"] == doc_id, "text"])


def test_every_file_has_exactly_one_document_row(messy, messy_folder: Path):
    documents = messy.ledger[messy.ledger["kind"] == "document"]
    assert sorted(documents["doc_id"]) == sorted(p.stem for p in messy_folder.iterdir())


def test_windows_1256_arabic_is_decoded_by_detection_and_recorded(messy):
    assert text_of(messy, "arabic_cp1256") == ARABIC
    row = status_of(messy, "arabic_cp1256")
    assert row["status"] == "used"
    assert "1256" in row["detail"] and "detected" in row["detail"]
    assert set(messy.segments.loc[messy.segments["doc_id"] == "arabic_cp1256", "language"]) == {"ar"}


def test_latin_1_french_is_decoded_by_detection(messy):
    assert text_of(messy, "french_latin1") == FRENCH
    assert "detected" in status_of(messy, "french_latin1")["detail"]


def test_utf8_bom_is_dropped_and_noted(messy):
    assert text_of(messy, "bom") == FRENCH_2
    assert status_of(messy, "bom")["detail"] == "UTF-8 with BOM"


def test_nul_bytes_inside_text_are_removed(messy):
    assert text_of(messy, "nul_bytes") == ENGLISH_2
    assert status_of(messy, "nul_bytes")["status"] == "used"


@pytest.mark.parametrize(("doc_id", "reason"), [("binary", "binary file"), ("junk", "undetectable encoding")])
def test_binary_files_are_unreadable_with_reason(messy, doc_id: str, reason: str):
    row = status_of(messy, doc_id)
    assert (row["status"], row["n_segments"]) == ("unreadable", 0)
    assert reason in row["reason"]
    assert doc_id not in set(messy.segments["doc_id"])


@pytest.mark.parametrize("doc_id", ["empty", "whitespace"])
def test_empty_and_whitespace_files_are_empty(messy, doc_id: str):
    assert status_of(messy, doc_id)["status"] == "empty"
    assert doc_id not in set(messy.segments["doc_id"])


def test_summary_counts_the_excluded_by_reason(messy):
    summary = messy.summary()
    assert summary["documents"] == {"inputs": 9, "used": 5, "duplicate": 0, "excluded": 4}
    assert summary["excluded_by_reason"]["empty: empty or whitespace-only text"] == 2
    assert (
        sum(n for reason, n in summary["excluded_by_reason"].items() if reason.startswith("unreadable")) == 2
    )


def test_missing_path_names_it(tmp_path: Path):
    with pytest.raises(CorpusError, match=r"nowhere.*no such file or folder"):
        build_corpus(tmp_path / "nowhere", CONFIG, progress=False)


def test_empty_folder_says_what_to_add(tmp_path: Path):
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    with pytest.raises(CorpusError, match=r"no documents \(\.txt, \.md, \.html, \.htm files\)"):
        build_corpus(tmp_path, CONFIG, progress=False)


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_stray_repeated_header_row_is_invalid_and_the_rest_used(tmp_path: Path):
    table = write_csv(
        tmp_path / "news.csv",
        f'text,date\n"{FRENCH}",15 décembre 2019\ntext,date\n"{ENGLISH}","May 24, 2020"\n',
    )
    corpus = build_corpus(table, CONFIG, progress=False)
    documents = corpus.ledger[corpus.ledger["kind"] == "document"]
    assert documents[["doc_id", "origin", "status", "reason"]].values.tolist() == [
        ["news:1", "news.csv:row 1", "used", ""],
        ["news:2", "news.csv:row 2", "invalid", "repeated header row"],
        ["news:3", "news.csv:row 3", "used", ""],
    ]
    assert corpus.segments["date"].notna().all()


def test_table_row_without_text_is_empty(tmp_path: Path):
    table = write_csv(tmp_path / "news.csv", f'text,date\n"{FRENCH}",2019-12-15\n"  ",2019-12-16\n')
    corpus = build_corpus(table, CONFIG, progress=False)
    assert corpus.ledger.loc[corpus.ledger["doc_id"] == "news:2", "status"].tolist() == ["empty"]


def test_table_without_a_text_column_lists_its_columns_and_the_fix(tmp_path: Path):
    table = write_csv(tmp_path / "news.csv", f'title,body\nx,"{FRENCH}"\n')
    with pytest.raises(
        CorpusError, match=r"news\.csv: no 'text' column \(columns: title, body\).*description"
    ):
        build_corpus(table, CONFIG, progress=False)


def test_mapped_column_that_does_not_exist_is_named_with_the_columns(tmp_path: Path):
    write_csv(tmp_path / "news.csv", f'title,resume\nx,"{FRENCH}"\n')
    description = tmp_path / "corpus.toml"
    description.write_text('[[input]]\npath = "news.csv"\ntext = ["title", "body"]\n', encoding="utf-8")
    with pytest.raises(
        CorpusError, match=r"news\.csv: column\(s\) 'body' not found; the file has 'title', 'resume'"
    ):
        build_corpus(description, CONFIG, progress=False)


def test_duplicate_ids_in_an_id_column_are_named_with_their_rows(tmp_path: Path):
    table = write_csv(tmp_path / "news.csv", f'id,text\nA1,"{FRENCH}"\nB2,"{ENGLISH}"\nA1,"{ARABIC}"\n')
    with pytest.raises(
        CorpusError, match=r"'A1' at \S*news\.csv:row 1, \S*news\.csv:row 3; make the id column unique"
    ):
        build_corpus(table, CONFIG, progress=False)


def manifest_folder(tmp_path: Path, rows: str) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text(FRENCH, encoding="utf-8")
    (folder / "b.txt").write_text(ENGLISH, encoding="utf-8")
    (folder / "manifest.csv").write_text("id,file,language\n" + rows, encoding="utf-8")
    return folder


def test_duplicate_ids_in_a_manifest_are_refused(tmp_path: Path):
    folder = manifest_folder(tmp_path, "doc-1,a.txt,fr\ndoc-1,b.txt,en\n")
    with pytest.raises(CorpusError, match=r"'doc-1' at .*manifest\.csv:row 1, .*manifest\.csv:row 2"):
        build_corpus(folder, CONFIG, progress=False)


def test_manifest_naming_a_missing_file_names_row_and_file(tmp_path: Path):
    folder = manifest_folder(tmp_path, "doc-1,a.txt,fr\ndoc-2,c.txt,en\n")
    with pytest.raises(CorpusError, match=r"manifest\.csv:row 2: file 'c\.txt' does not exist"):
        build_corpus(folder, CONFIG, progress=False)


def test_manifest_path_outside_the_corpus_folder_is_refused(tmp_path: Path):
    (tmp_path / "secret.txt").write_text(ENGLISH, encoding="utf-8")
    folder = manifest_folder(tmp_path, "doc-1,a.txt,fr\ndoc-2,../secret.txt,en\n")
    with pytest.raises(CorpusError, match=r"row 2: file '\.\./secret\.txt' is outside the corpus folder"):
        build_corpus(folder, CONFIG, progress=False)
