"""Every bad input: a ledger outcome, or one message naming the file, row, column or setting and the fix.

Issue 2 item 10 (encodings, NUL bytes, duplicate ids, manifests) and issue 14 (run folders that hold one
run, every input file and row in the ledger, settings checked before any work, pickle-free model loading).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pandas as pd
import pytest

from analysis import pipeline
from analysis.cli import build_parser, config_from_args, main
from analysis.config import ConfigError, CorpusConfig, RunConfig, TopicConfig
from analysis.corpus import CorpusError, build_corpus, require_segments
from analysis.pipeline import RunFolderError, load_run

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


def assert_ledger_sums(corpus, n_inputs: int) -> None:
    """inputs = used + excluded, one document row per input file or row."""
    documents = corpus.summary()["documents"]
    assert documents["inputs"] == n_inputs == documents["used"] + documents["excluded"]
    assert (corpus.ledger["kind"] == "document").sum() == n_inputs


# --- every input file and row in the ledger ------------------------------------------------------


@pytest.fixture(scope="module")
def cluttered(tmp_path_factory: pytest.TempPathFactory):
    """A folder with notes, other file types, a hidden file and a subfolder beside two articles."""
    folder = tmp_path_factory.mktemp("cluttered")
    (folder / "a.txt").write_text(FRENCH, encoding="utf-8")
    (folder / "b.md").write_text(ENGLISH, encoding="utf-8")
    for name in ("Source.txt", "License.md", "README.md", "notes.rtf", "data.json", ".DS_Store"):
        (folder / name).write_text("not an article", encoding="utf-8")
    (folder / "2020").mkdir()
    (folder / "2020" / "c.txt").write_text(FRENCH_2, encoding="utf-8")
    return folder, build_corpus(folder, CONFIG, progress=False)


@pytest.mark.parametrize(
    ("doc_id", "reason"),
    [
        ("Source.txt", "a note beside the documents"),
        ("License.md", "a note beside the documents"),
        ("README.md", "a note beside the documents"),
        ("notes.rtf", "not a document type (.rtf)"),
        ("data.json", "not a document type (.json)"),
        (".DS_Store", "hidden file"),
        ("2020/c.txt", "in a subfolder; set recursive = true"),
    ],
)
def test_files_not_read_have_a_skipped_ledger_row_with_the_reason(cluttered, doc_id: str, reason: str):
    _, corpus = cluttered
    row = status_of(corpus, doc_id)
    assert (row["status"], row["n_segments"]) == ("skipped", 0)
    assert reason in row["reason"]
    assert_ledger_sums(corpus, 9)
    assert set(corpus.segments["doc_id"]) == {"a", "b"}


def test_a_description_reads_subfolders_with_recursive(cluttered, tmp_path: Path):
    folder, _ = cluttered
    description = tmp_path / "corpus.toml"
    description.write_text(f'[[input]]\npath = "{folder.as_posix()}"\nrecursive = true\n', encoding="utf-8")
    corpus = build_corpus(description, CONFIG, progress=False)
    assert set(corpus.segments["doc_id"]) == {"a", "b", "2020/c"}
    assert text_of(corpus, "2020/c") == FRENCH_2
    assert_ledger_sums(corpus, 9)


def test_csv_row_with_an_extra_field_is_invalid_naming_its_line_and_nothing_shifts(tmp_path: Path):
    table = write_csv(tmp_path / "news.csv", f'id,text\na,"{FRENCH}"\nb,"{ENGLISH}",extra\nc,"{ARABIC}"\n')
    corpus = build_corpus(table, CONFIG, progress=False)
    row = status_of(corpus, "news:2")
    assert row["status"] == "invalid"
    assert "line 3: 3 fields where the header has 2" in row["reason"]
    assert text_of(corpus, "a") == FRENCH and text_of(corpus, "c") == ARABIC
    assert "extra" not in " ".join(corpus.segments["text"])
    assert_ledger_sums(corpus, 3)


def test_csv_row_with_a_missing_field_is_invalid(tmp_path: Path):
    table = write_csv(tmp_path / "news.csv", f'id,text,date\na,"{FRENCH}",2020-01-02\nb,"{ENGLISH}"\n')
    corpus = build_corpus(table, CONFIG, progress=False)
    assert "line 3: 2 fields where the header has 3" in status_of(corpus, "news:2")["reason"]
    assert_ledger_sums(corpus, 2)


def test_csv_with_an_unclosed_quote_names_the_line(tmp_path: Path):
    table = write_csv(tmp_path / "news.csv", f'id,text\na,"{FRENCH}\nb,"{ENGLISH}"\n')
    with pytest.raises(CorpusError, match=r"news\.csv: line \d+: cannot read as a table.*quoting"):
        build_corpus(table, CONFIG, progress=False)


def test_numeric_ids_are_kept_as_written(tmp_path: Path):
    table = write_csv(tmp_path / "news.csv", f'id,text\n007,"{FRENCH}"\n1.0,"{ENGLISH}"\n')
    assert set(build_corpus(table, CONFIG, progress=False).segments["doc_id"]) == {"007", "1.0"}
    lines = tmp_path / "news.jsonl"
    lines.write_text(
        json.dumps({"id": 7, "text": FRENCH}) + "\n" + '{"id": 1.50, "text": "' + ENGLISH + '"}\n',
        encoding="utf-8",
    )
    assert set(build_corpus(lines, CONFIG, progress=False).segments["doc_id"]) == {"7", "1.50"}


def test_a_blank_id_is_an_invalid_row(tmp_path: Path):
    table = write_csv(tmp_path / "news.csv", f'id,text\na,"{FRENCH}"\n  ,"{ENGLISH}"\n')
    corpus = build_corpus(table, CONFIG, progress=False)
    row = status_of(corpus, "news:2")
    assert row["status"] == "invalid" and "blank id in column 'id'" in row["reason"]
    assert_ledger_sums(corpus, 2)


def test_float_ids_in_parquet_are_refused(tmp_path: Path):
    path = tmp_path / "news.parquet"
    pd.DataFrame({"id": [1.0, 2.0], "text": [FRENCH, ENGLISH]}).to_parquet(path)
    with pytest.raises(CorpusError, match=r"id column 'id' holds floating-point numbers \(e\.g\. 1\.0\)"):
        build_corpus(path, CONFIG, progress=False)


def test_list_valued_parquet_text_is_joined_as_paragraphs(tmp_path: Path):
    path = tmp_path / "news.parquet"
    pd.DataFrame({"id": ["a", "b"], "text": [[FRENCH, FRENCH_2], [ENGLISH]]}).to_parquet(path)
    corpus = build_corpus(path, CONFIG, progress=False)
    assert text_of(corpus, "a") == f"{FRENCH}\n\n{FRENCH_2}"
    assert "['" not in " ".join(corpus.segments["text"])
    assert_ledger_sums(corpus, 2)


def test_nested_lists_as_text_are_refused_by_name(tmp_path: Path):
    lines = tmp_path / "news.jsonl"
    rows = [{"id": "a", "text": FRENCH}, {"id": "b", "text": [[ENGLISH]]}, {"id": "c", "text": {"x": 1}}]
    lines.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    corpus = build_corpus(lines, CONFIG, progress=False)
    assert "column 'text' holds a list of non-text values" in status_of(corpus, "news:2")["reason"]
    assert "column 'text' holds a JSON object" in status_of(corpus, "news:3")["reason"]
    assert_ledger_sums(corpus, 3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "a"}\n{"text": "b",}\n', r"line 2: not valid JSON \(.*column \d+\)"),
        ('{"text": "a"}\n\n["b"]\n', r"line 3: a JSON list, not an object"),
        ("\n\n", "no JSON objects"),
    ],
)
def test_jsonl_errors_name_the_line(tmp_path: Path, content: str, message: str):
    lines = tmp_path / "news.jsonl"
    lines.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        build_corpus(lines, CONFIG, progress=False)


@pytest.mark.parametrize(
    ("codec", "text"),
    [
        ("utf-16-le", ENGLISH),
        ("utf-16-be", FRENCH),
        ("utf-16-le", ARABIC),
        ("utf-32-le", FRENCH),
        ("utf-32-be", ARABIC),
        ("utf-32", ENGLISH),  # with its BOM
    ],
)
def test_utf16_and_utf32_are_decoded_with_or_without_a_bom(tmp_path: Path, codec: str, text: str):
    (tmp_path / "doc.txt").write_bytes(text.encode(codec))
    corpus = build_corpus(tmp_path, CONFIG, progress=False)
    assert text_of(corpus, "doc") == text
    assert status_of(corpus, "doc")["detail"].startswith(f"decoded as {codec.upper()}")
    assert_ledger_sums(corpus, 1)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_or_dangling_link_in_the_folder_is_a_skipped_row(tmp_path: Path):
    (tmp_path / "a.txt").write_text(FRENCH, encoding="utf-8")
    os.mkfifo(tmp_path / "pipe.txt")  # reading it would block forever
    (tmp_path / "gone.txt").symlink_to(tmp_path / "deleted.txt")
    corpus = build_corpus(tmp_path, CONFIG, progress=False)
    assert status_of(corpus, "pipe.txt")["reason"] == "not a regular file"
    assert status_of(corpus, "gone.txt")["status"] == "skipped"
    assert_ledger_sums(corpus, 3)


def test_a_run_killed_mid_stage_stays_running_and_is_refused(tmp_path: Path):
    out = tmp_path / "run"
    assert run_corpus_cli(small_corpus(tmp_path / "c", FRENCH), out) == 0
    manifest = manifest_of(out)
    manifest["status"] = "running"  # what a killed process leaves
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(RunFolderError, match=r"did not finish \(status 'running'\)"):
        load_run(out)


def test_overwrite_and_resume_together_are_refused(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["corpus", "--out", str(tmp_path / "r"), "--overwrite", "--resume"])
    assert excinfo.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(RunFolderError, match="exclude each other"):
        pipeline.run_corpus(None, tmp_path / "r", RunConfig(), overwrite=True, resume=True)


def test_a_link_out_of_the_folder_is_refused_without_a_manifest(tmp_path: Path):
    (tmp_path / "secret.txt").write_text(ENGLISH, encoding="utf-8")
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text(FRENCH, encoding="utf-8")
    (folder / "b.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(
        CorpusError, match=r"b\.txt: a link to .*secret\.txt, which is outside the corpus folder"
    ):
        build_corpus(folder, CONFIG, progress=False)


def test_a_link_out_of_the_folder_is_refused_with_a_manifest(tmp_path: Path):
    (tmp_path / "secret.txt").write_text(ENGLISH, encoding="utf-8")
    folder = manifest_folder(tmp_path, "doc-1,a.txt,fr\ndoc-2,c.txt,en\n")
    (folder / "c.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(
        CorpusError, match=r"row 2: file 'c\.txt' \(a link to .*secret\.txt\) is outside the corpus"
    ):
        build_corpus(folder, CONFIG, progress=False)


def test_a_boilerplate_only_corpus_says_so(tmp_path: Path):
    for n in range(3):
        (tmp_path / f"p{n}.txt").write_text(
            "Lire aussi : Le Maroc lance sa stratégie numérique\n", encoding="utf-8"
        )
    corpus = build_corpus(tmp_path, CONFIG, progress=False)
    assert_ledger_sums(corpus, 3)
    with pytest.raises(CorpusError, match=r"no text left to model.*3 boilerplate: only page furniture"):
        require_segments(corpus)


@pytest.mark.parametrize(
    ("date", "config", "kept"),
    [
        ("1900-01-01", CONFIG, False),
        ("2099-05-01", CONFIG, False),
        ("12 mars 1985", CONFIG, False),
        ("1900-01-01", CorpusConfig(earliest_date="1800-01-01"), True),
        ("2019-12-15", CONFIG, True),
    ],
)
def test_implausible_dates_are_kept_raw_and_counted(tmp_path: Path, date: str, config, kept: bool):
    table = write_csv(tmp_path / "news.csv", f'text,date\n"{FRENCH}",{date}\n"{ENGLISH}",2020-05-24\n')
    corpus = build_corpus(table, config, progress=False)
    first = corpus.segments[corpus.segments["doc_id"] == "news:1"].iloc[0]
    assert first["date_raw"] == date
    assert pd.notna(first["date"]) is kept
    assert corpus.summary()["dates"]["implausible"] == (0 if kept else 1)
    assert ("implausible date" in status_of(corpus, "news:1")["detail"]) is not kept
    assert_ledger_sums(corpus, 2)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("language = 3", r"language = 3: give a code such as \"fr\", or \{ column = \"lang\" \}"),
        ("text = []", r"text = \[\]: give the text column, or a list of columns"),
        ("text = [1]", r"text = \[1\]: give the text column"),
        ("id = 5", r"id = 5 must be a string"),
        ('keep = "topic"', r"keep = 'topic': give a list of columns"),
    ],
)
def test_description_mappings_of_the_wrong_type_are_refused(tmp_path: Path, entry: str, message: str):
    write_csv(tmp_path / "news.csv", f'id,text\na,"{FRENCH}"\n')
    description = tmp_path / "corpus.toml"
    description.write_text(f'[[input]]\npath = "news.csv"\n{entry}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"corpus\.toml \[\[input\]\] #1: " + message):
        build_corpus(description, CONFIG, progress=False)


def test_arabizi_topic_words_keep_their_digits():
    from analysis.vectorize import make_vectorizer

    texts = ["sna3i w l9adia f lmghrib", "sna3i jdid f casa", "l9adia dyal sna3i"]
    vocabulary = set(make_vectorizer(len(texts), min_df=1).fit(texts).get_feature_names_out())
    assert {"sna3i", "l9adia"} <= vocabulary
    assert "sna" not in vocabulary


# --- settings checked before any work --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[tables]\nn_bootstrap = "many"\n', "[tables] n_bootstrap = 'many': must be an integer ≥ 1"),
        ('[topics]\nseed = "abc"\n', "[topics] seed = 'abc': must be an integer ≥ 0"),
        ("[figures]\ndpi = -5\n", "[figures] dpi = -5 is out of range: must be an integer ≥ 10 and ≤ 1200"),
        (
            "[tables]\nconfidence = 7.5\n",
            "[tables] confidence = 7.5 is out of range: must be a number > 0 and < 1",
        ),
        ('[figures]\nformats = ["bmpx"]\n', "[figures] formats = ['bmpx'] is not one of 'png', 'svg', 'pdf'"),
        (
            '[corpus]\nmin_segment_chars = "forty"\n',
            "[corpus] min_segment_chars = 'forty': must be an integer",
        ),
        ('[corpus]\nlanguages = "ar"\n', "[corpus] languages = 'ar': must be a list"),
        ('[corpus]\nlanguages = ["ar", "xx"]\n', "unknown code(s) ['xx']; valid ISO 639-1 codes: af, ar,"),
        (
            "[topics]\nnr_topics = 0\n",
            "[topics] nr_topics = 0 is out of range: must be an integer ≥ 2, or leave",
        ),
        ("[topics]\nreduce_outliers = 1\n", "[topics] reduce_outliers = 1: must be true or false"),
        ('[topics]\nrepresentation = "bert"\n', "representation = 'bert' is not one of 'distinctive'"),
        (
            "[corpus]\nmax_segment_chars = 30\n",
            "max_segment_chars = 30 must be greater than min_segment_chars = 40",
        ),
        ('[corpus]\nearliest_date = "yesterday"\n', "earliest_date = 'yesterday': must be an ISO date"),
        ("seed = 1\n", "seed = 1 is not inside a section; put it under [topics] and [tables]"),
        ("[embed]\nbatch_size = 0\n", "[embed] batch_size = 0 is out of range: must be an integer ≥ 1"),
    ],
)
def test_bad_settings_name_the_setting_the_value_and_what_is_valid(tmp_path: Path, text: str, message: str):
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        RunConfig.from_toml(path)
    assert message in str(excinfo.value)
    assert str(path) in str(excinfo.value)


def test_settings_are_checked_when_a_section_is_built_directly_or_by_keyword():
    with pytest.raises(ConfigError, match=r"\[topics\] nr_topics = -3 is out of range"):
        TopicConfig(nr_topics=-3)
    with pytest.raises(ConfigError, match=r"\[corpus\] near_duplicate_threshold = 1.5 is out of range"):
        RunConfig().replace(corpus={"near_duplicate_threshold": 1.5})
    assert CorpusConfig(languages=["ar"]).languages == ("ar",)  # a list is stored as a tuple


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--languages", "xx"], "[corpus] languages = ['xx']: unknown code(s) ['xx']; valid ISO 639-1 codes"),
        (["--seed", "-1"], "[topics] seed = -1 is out of range: must be an integer ≥ 0"),
        (["--nr-topics", "-3"], "[topics] nr_topics = -3 is out of range"),
        (["--nr-topics", "0"], "[topics] nr_topics = 0 is out of range"),
    ],
)
def test_bad_options_exit_2_before_any_work(tmp_path: Path, capsys, options: list[str], message: str):
    out = tmp_path / "run"
    status = main(["run", "--out", str(out), *options, "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not out.exists()  # nothing was started


def test_period_auto_is_accepted_and_a_config_file_with_a_bom_is_read(tmp_path: Path):
    path = tmp_path / "run.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'[tables]\nperiod = "year"\n')
    args = build_parser().parse_args(["run", "--out", "r", "--config", str(path)])
    assert config_from_args(args).tables.period == "year"
    args = build_parser().parse_args(["run", "--out", "r", "--config", str(path), "--period", "auto"])
    assert config_from_args(args).tables.period == "auto"


def test_a_description_config_block_with_a_bad_value_names_the_file(tmp_path: Path, capsys):
    (tmp_path / "news.csv").write_text(f'text\n"{FRENCH}"\n', encoding="utf-8")
    description = tmp_path / "corpus.toml"
    description.write_text('[[input]]\npath = "news.csv"\n[config.figures]\ndpi = 3\n', encoding="utf-8")
    assert main(["corpus", str(description), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert (
        "corpus.toml [config]: [figures] dpi = 3 is out of range: must be an integer ≥ 10 and ≤ 1200" in err
    )
    assert not (tmp_path / "run").exists()


# --- run folders hold one run ----------------------------------------------------------------------


def small_corpus(folder: Path, *texts: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n, text in enumerate(texts):
        (folder / f"d{n}.txt").write_text(text, encoding="utf-8")
    return folder


def run_corpus_cli(source: Path, out: Path, *options: str) -> int:
    return main(["corpus", str(source), "--out", str(out), "--no-progress", *options])


def manifest_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture
def two_corpora(tmp_path: Path) -> tuple[Path, Path]:
    return (
        small_corpus(tmp_path / "first", FRENCH, ENGLISH),
        small_corpus(tmp_path / "second", ARABIC, FRENCH_2, ENGLISH_2),
    )


def test_a_second_run_into_a_used_folder_is_refused(two_corpora, tmp_path: Path, capsys):
    first, second = two_corpora
    out = tmp_path / "run"
    assert run_corpus_cli(first, out) == 0
    before = (out / "segments.parquet").read_bytes()
    assert run_corpus_cli(second, out) == 2
    err = capsys.readouterr().err
    assert "holds another run" in err and "--overwrite" in err and "--resume" in err
    assert (out / "segments.parquet").read_bytes() == before


def test_overwrite_clears_the_earlier_run_so_no_outputs_of_both_remain(two_corpora, tmp_path: Path):
    first, second = two_corpora
    out = tmp_path / "run"
    assert run_corpus_cli(first, out) == 0
    (out / "model").mkdir()  # outputs a `topics` run of the first corpus would have left
    (out / "embeddings.npy").write_bytes(b"old")
    (out / "topics.csv").write_text("topic\n0\n", encoding="utf-8")
    assert run_corpus_cli(second, out, "--overwrite") == 0
    assert sorted(p.name for p in out.iterdir()) == ["ledger.csv", "manifest.json", "segments.parquet"]
    result = load_run(out)
    assert set(result.segments["doc_id"]) == {"d0", "d1", "d2"} and result.topic_result is None
    assert manifest_of(out)["status"] == "complete"


def test_resume_reuses_the_completed_stage_of_the_same_run(two_corpora, tmp_path: Path):
    first, _ = two_corpora
    out = tmp_path / "run"
    assert run_corpus_cli(first, out) == 0
    earlier = manifest_of(out)
    assert run_corpus_cli(first, out, "--resume") == 0
    later = manifest_of(out)
    assert later["resumed_from"] == earlier["run_id"] != later["run_id"]
    assert "corpus" not in [s["name"] for s in later["stages"]]  # not rebuilt
    assert later["status"] == "complete" and later["files"] == earlier["files"]


def test_resume_with_other_settings_or_changed_files_is_refused(two_corpora, tmp_path: Path, capsys):
    first, _ = two_corpora
    out = tmp_path / "run"
    assert run_corpus_cli(first, out) == 0
    assert run_corpus_cli(first, out, "--resume", "--segment-by", "sentence") == 2
    assert "other settings ([corpus] segment_by differ)" in capsys.readouterr().err
    (first / "d0.txt").write_text(FRENCH_2, encoding="utf-8")
    assert run_corpus_cli(first, out, "--resume") == 2
    assert "changed since" in capsys.readouterr().err


def test_resume_may_change_settings_only_stages_it_redoes_use(two_corpora, tmp_path: Path):
    first, _ = two_corpora
    out = tmp_path / "run"
    assert run_corpus_cli(first, out) == 0
    (out / "tables").mkdir()  # outputs of later stages, computed with the earlier settings
    (out / "report.html").write_text("old", encoding="utf-8")
    # only the corpus stage completed: topic and table settings may differ, corpus settings may not
    manifest_before = manifest_of(out)
    config = RunConfig().replace(topics={"seed": 7}, tables={"period": "year"})
    pipeline.run_corpus(first, out, config, progress=False, resume=True)
    manifest = manifest_of(out)
    assert manifest["resumed_from"] == manifest_before["run_id"]
    assert manifest["status"] == "complete" and manifest["config"]["topics"]["seed"] == 7
    assert sorted(p.name for p in out.iterdir()) == ["ledger.csv", "manifest.json", "segments.parquet"]


@pytest.mark.parametrize(
    ("failure", "status"), [(KeyboardInterrupt, "interrupted"), (RuntimeError, "failed")]
)
def test_an_interrupted_or_failed_run_is_never_read_as_complete(
    two_corpora, tmp_path: Path, monkeypatch, capsys, failure, status
):
    first, _ = two_corpora
    out = tmp_path / "run"

    def broken(*args, **kwargs):
        raise failure("stopped")

    monkeypatch.setattr("analysis.corpus.build_corpus", broken)
    with pytest.raises(failure):
        pipeline.run_corpus(first, out, RunConfig(), progress=False)
    assert manifest_of(out)["status"] == status
    with pytest.raises(RunFolderError, match=rf"the run did not finish \(status '{status}'.*--resume"):
        load_run(out)
    assert main(["evaluate", str(out)]) == 2
    assert "did not finish" in capsys.readouterr().err


def test_a_run_that_failed_before_any_stage_completed_is_replaced_by_the_next(tmp_path: Path, capsys):
    source = tmp_path / "news.csv"
    source.write_text(f'title\n"{FRENCH}"\n', encoding="utf-8")
    out = tmp_path / "run"
    assert run_corpus_cli(source, out) == 2
    assert "no 'text' column" in capsys.readouterr().err
    assert manifest_of(out)["status"] == "failed" and manifest_of(out)["completed"] == []
    source.write_text(f'text\n"{FRENCH}"\n', encoding="utf-8")
    assert run_corpus_cli(source, out) == 0
    assert manifest_of(out)["status"] == "complete"


def test_a_data_file_replaced_after_the_run_is_refused(two_corpora, tmp_path: Path):
    first, second = two_corpora
    out, other = tmp_path / "run", tmp_path / "other"
    assert run_corpus_cli(first, out) == 0 and run_corpus_cli(second, other) == 0
    (out / "segments.parquet").write_bytes((other / "segments.parquet").read_bytes())
    with pytest.raises(RunFolderError, match=r"segments\.parquet is not the file this run wrote \(changed"):
        load_run(out)


def test_a_deliberate_edit_is_recorded_and_then_accepted(two_corpora, tmp_path: Path):
    from analysis.run_folder import record_changed_files

    first, _ = two_corpora
    out = tmp_path / "run"
    assert run_corpus_cli(first, out) == 0
    ledger = pd.read_csv(out / "ledger.csv", keep_default_na=False)
    ledger.assign(reason="checked by hand").to_csv(out / "ledger.csv", index=False)  # e.g. a curation
    with pytest.raises(RunFolderError, match=r"ledger\.csv is not the file this run wrote"):
        load_run(out)
    record_changed_files(out, ["ledger.csv"])
    assert len(load_run(out).segments) == 2


def test_out_inside_source_and_source_inside_out_are_refused(two_corpora, tmp_path: Path, capsys):
    first, _ = two_corpora
    for out in (first, first / "run"):
        assert run_corpus_cli(first, out) == 2
        assert "is inside SOURCE" in capsys.readouterr().err
    assert sorted(p.name for p in first.iterdir()) == ["d0.txt", "d1.txt"]  # nothing written there
    assert run_corpus_cli(first, tmp_path) == 2
    assert "is inside --out" in capsys.readouterr().err


def test_out_inside_a_folder_a_description_reads_is_refused(two_corpora, tmp_path: Path, capsys):
    first, _ = two_corpora
    description = tmp_path / "corpus.toml"
    description.write_text('[[input]]\npath = "first"\n', encoding="utf-8")
    assert run_corpus_cli(description, first / "run") == 2
    assert "is inside the corpus folder" in capsys.readouterr().err
    assert not (first / "run").exists()


def test_a_folder_that_is_not_a_run_is_never_cleared(two_corpora, tmp_path: Path, capsys):
    first, _ = two_corpora
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.docx").write_bytes(b"mine")
    assert run_corpus_cli(first, out, "--overwrite") == 2
    assert "holds no run" in capsys.readouterr().err
    assert (out / "chapter1.docx").read_bytes() == b"mine"


@pytest.mark.parametrize("option", ["--out", "--cache-dir"])
def test_unusable_out_and_cache_dir_are_reported_before_any_work(two_corpora, tmp_path: Path, capsys, option):
    first, _ = two_corpora
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    out = blocker if option == "--out" else tmp_path / "run"
    argv = ["topics", str(first), "--out", str(out), "--no-progress"]
    if option == "--cache-dir":
        argv += ["--cache-dir", str(blocker / "cache")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and option in err and "Traceback" not in err
    assert not (tmp_path / "run" / "segments.parquet").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_is_reported(two_corpora, tmp_path: Path, capsys):
    first, _ = two_corpora
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert run_corpus_cli(first, locked / "run") == 2
    assert "cannot write to --out" in capsys.readouterr().err


def test_topics_on_a_boilerplate_only_corpus_exits_2_saying_so(tmp_path: Path, capsys):
    source = small_corpus(
        tmp_path / "furniture", *["Lire aussi : Le Maroc lance sa stratégie numérique\n"] * 2
    )
    argv = ["topics", str(source), "--out", str(tmp_path / "run"), "--no-progress",
            "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no text left to model" in err and "boilerplate" in err and "duplicate" not in err


# --- saved models load without pickle --------------------------------------------------------------


class _Payload:
    """Unpickling this creates a file: what a planted model file could do instead."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def planted_model_folder(folder: Path, sentinel: Path) -> Path:
    import torch

    bertopic = folder / "bertopic"
    bertopic.mkdir(parents=True)
    for name in ("config.json", "topics.json", "ctfidf_config.json"):
        (bertopic / name).write_text("{}", encoding="utf-8")
    (bertopic / "topic_embeddings.safetensors").write_bytes(b"")
    torch.save({"ctfidf": _Payload(sentinel)}, bertopic / "ctfidf.bin")  # no ctfidf.safetensors
    for name in ("topics.csv", "segment_topics.parquet", "config.json", "codebook.toml"):
        (folder / name).write_text("", encoding="utf-8")
    return folder


def test_a_planted_pickle_is_refused_even_when_torch_would_run_it(tmp_path: Path, monkeypatch):
    import torch

    from analysis.topics import UnsafeModelError, load_topic_model

    sentinel = tmp_path / "pwned"
    folder = planted_model_folder(tmp_path / "model", sentinel)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(
        UnsafeModelError, match=r"missing ctfidf\.safetensors.*pickle-format files \(bertopic/ctfidf\.bin\)"
    ):
        load_topic_model(folder)
    assert not sentinel.exists()
    # the threat is real: with that variable, torch.load (BERTopic's fallback) runs the payload
    with pytest.warns(UserWarning, match="TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        torch.load(folder / "bertopic" / "ctfidf.bin", map_location="cpu")
    assert sentinel.exists()


def test_a_model_folder_missing_its_safetensors_is_refused(tmp_path: Path, capsys):
    folder = planted_model_folder(tmp_path / "run" / "model", tmp_path / "never")
    (folder / "bertopic" / "ctfidf.bin").unlink()
    from analysis.topics import UnsafeModelError, load_topic_model

    with pytest.raises(UnsafeModelError, match=r"missing ctfidf\.safetensors"):
        load_topic_model(folder)


def test_the_new_topic_settings_are_checked_before_any_fit():
    with pytest.raises(ConfigError, match=r"\[topics\] rival_penalty = 1.5 is out of range: must be a number ≥ 0 and < 1"):
        TopicConfig(rival_penalty=1.5)
    with pytest.raises(ConfigError, match=r"\[topics\] topic_reduction = 'fastest' is not one of 'smallest_first'"):
        TopicConfig(topic_reduction="fastest")
    assert TopicConfig(rival_penalty=0, topic_reduction="agglomerative").rival_penalty == 0  # both ends allowed
