"""The run report: one self-contained HTML file in which corpus text stays text.

A segment carrying `<script>` and an `onerror` attribute travels through the tables into the
report; the parsed report must hold no script element, no event-handler attribute and no image
that is not embedded, and headless Chromium (when installed) must run nothing from it.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")

import pytest
from test_tables import synthetic_segments

from analysis import report
from analysis.config import TableConfig
from analysis.figures import (
    FigureFooter,
    interactive_shares_over_time,
    plot_share_heatmap,
    save_figure,
    write_interactive,
)
from analysis.report import write_report
from analysis.report_text import evaluation_rows
from analysis.tables import representative_segments, share_table, theme_trends

CAPTION = "Share of segments per theme & language (95 % intervals over documents); read across rows: الحصة"
PAYLOAD = "<script>document.title='PWNED'</script><img src=x onerror=\"document.body.dataset.pwned='1'\">"
CONFIG = TableConfig(n_bootstrap=50)
FALLBACK_ENCODER = {
    "name": "use-multilingual-v3",
    "kind": "use",
    "fallback_reason": "no network & no cached model",
    "requested_model": "org/model",
}


class Elements(HTMLParser):
    """Every start tag with its attributes, and all text, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(path) -> Elements:
    parser = Elements()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder with figures, and the inputs of write_report, corpus text carrying a payload."""
    run_dir = tmp_path_factory.mktemp("run")
    segments = synthetic_segments(n_documents=60).copy()
    segments.loc[0, "text"] = PAYLOAD + " مراكز البيانات"
    segments.loc[segments["topic"] == 0, "topic_label"] = "0_data centres_" + PAYLOAD
    footer = FigureFooter(
        corpus="synthetic", n_segments=len(segments), encoder=FALLBACK_ENCODER, run_date="2025-01-02"
    )
    by_language = share_table(segments, by="language", config=CONFIG)
    by_period = share_table(segments, by="period", config=CONFIG)
    figures = save_figure(
        plot_share_heatmap(by_language)[0], run_dir / "figures" / "theme_by_language", footer=footer
    )
    figures.append(
        write_interactive(interactive_shares_over_time(by_period), run_dir / "figures" / "shares.html")
    )
    fig, ax = matplotlib.pyplot.subplots()  # a figure the sidecar does not know: placed, marked uncaptioned
    ax.plot([0, 1], [0, 1])
    figures += save_figure(fig, run_dir / "figures" / "extra_figure", footer=footer, formats=("png",))
    matplotlib.pyplot.close("all")  # save_figure leaves closing to its caller (the friendly layer)
    sidecar = [
        {"name": "theme_by_language", "title": "Themes by language <b>", "caption": CAPTION + PAYLOAD,
         "files": {"png": "figures/theme_by_language.png", "svg": "figures/theme_by_language.svg",
                   "pdf": "figures/theme_by_language.pdf"}},
        {"name": "shares_map", "title": "Shares, interactive", "caption": "Hover for counts.",
         "files": {"html": "figures/shares.html"}},
    ]  # fmt: skip
    (run_dir / "figures" / "figures.json").write_text(json.dumps(sidecar), encoding="utf-8")
    by_source = share_table(segments, by="source", config=CONFIG)
    tables = {
        "theme_by_source": by_source,
        "theme_by_language": by_language,
        "theme_by_period": by_period,
        # a larger corpus, so that the planted rise is clear of its interval
        "theme_trends": theme_trends(synthetic_segments(n_documents=400), TableConfig(n_bootstrap=200, period="quarter")),
        "representative_segments": representative_segments(segments, n=2),
        "segments": segments[["segment_id", "text", "topic_label"]],
    }
    manifest = {
        "source": "synthetic <corpus>",
        "started": "2025-01-02T10:00:00+00:00",
        "encoder": FALLBACK_ENCODER,
        "corpus": {"name": "synthetic", "inputs": [f"in/{k}.csv" for k in range(20)],
                   "documents": {"inputs": 61, "used": 60}, "segments": {"total": len(segments)},
                   "segments_by_source": {"outlet-a": 50}, "segments_by_month": {"2023-01": 5, "2024-12": 7}},
        "topics": {"n_topics": 6, "outlier_share": 0.125, "min_topic_size": 10, "seed": 42},
        "config": {"tables": {"n_bootstrap": 50, "seed": 42}},
        "versions": {"python": "3.11", "matplotlib": matplotlib.__version__},
        "seeds": {"topics": 42, "tables": 42},
        "stages": [
            {"stage": "corpus", "seconds": 1.5, "peak_rss_mb": 300.0},
            {"stage": "topics", "seconds": 9.0},
        ],
    }
    ledger = {"documents": 61, "used": 60, "excluded": {"duplicate": 1, "<empty> & odd": 0}}
    path = write_report(
        run_dir,
        title="Themes in <synthetic>",
        manifest=manifest,
        ledger_summary=ledger,
        tables=tables,
        figures=figures,
        evaluation={"npmi": 0.12345, "diversity": 0.8},
        findings={"theme_source": "topic", "warnings": ["Language 'en' is held by one outlet <outlet-e>"]},
        theme_labels={"infrastructure": "Infrastructure & compute", "ethics": "Ethics", "quantum": "Quantum"},
    )
    return {"path": path, "run_dir": run_dir, "figures": figures, "segments": segments, "tables": tables}


def test_report_is_one_file_with_no_script_and_no_event_handler(run):
    page = parse(run["path"])
    tags = [tag for tag, _ in page.tags]
    assert "script" not in tags
    assert not [(tag, name) for tag, attrs in page.tags for name in attrs if name.startswith("on")]
    images = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    assert images and all(src.startswith("data:image/png;base64,") for src in images)
    policy = [attrs for tag, attrs in page.tags if tag == "meta" and attrs.get("http-equiv")]
    assert "default-src 'none'" in policy[0]["content"]


def test_corpus_text_is_shown_as_text(run):
    text = "".join(parse(run["path"]).text)
    assert PAYLOAD + " مراكز البيانات" in text  # the payload is visible, character for character
    assert "Themes in <synthetic>" in text
    assert "0_data centres_" + PAYLOAD in text  # topic labels too


def test_figures_are_embedded_and_other_formats_linked(run):
    page = parse(run["path"])
    png = next(f for f in run["figures"] if f.suffix == ".png")
    src = next(attrs["src"] for tag, attrs in page.tags if tag == "img")
    assert base64.b64decode(src.split(",", 1)[1]) == png.read_bytes()
    links = {attrs["href"] for tag, attrs in page.tags if tag == "a"}
    assert {"figures/theme_by_language.svg", "figures/theme_by_language.pdf", "figures/shares.html"} <= links
    assert all((run["run_dir"] / link).is_file() for link in links if not link.startswith("#"))


def test_manifest_ledger_evaluation_and_fallback_banner(run):
    page = parse(run["path"])
    text = " ".join(page.text)
    banner = [attrs for tag, attrs in page.tags if attrs.get("class") == "banner"]
    assert len(banner) == 1 and "FALLBACK ENCODER" in text
    assert "no network & no cached model" in text
    for expected in ("Corpus and ledger", "<empty> & odd", "Evaluation", "npmi", "0.1235", "Inputs and run manifest",
                     "peak_rss_mb", "n_bootstrap", "matplotlib"):  # fmt: skip
        assert expected in text, expected


class Sections(HTMLParser):
    """Per section id: its text; per figure: its caption's text; the ids of open <details> in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: dict[str, str] = {}
        self.h2: list[str] = []
        self.captions: list[str] = []
        self.details: list[tuple[str, str]] = []  # (section id, details id or "")
        self._section = ""
        self._stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self._section = attrs.get("id", "")
            self.sections[self._section] = ""
        if tag == "figure":
            self.captions.append("")
        if tag == "details":
            self.details.append((self._section, attrs.get("id") or ""))
        self._stack.append(tag)

    def handle_endtag(self, tag):
        while self._stack and self._stack.pop() != tag:
            pass

    def handle_data(self, data):
        if self._section:
            self.sections[self._section] += data
        if "figcaption" in self._stack:
            self.captions[-1] += data
        if self._stack and self._stack[-1] == "h2":
            self.h2.append(data)


def sections(path) -> Sections:
    parser = Sections()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_report_opens_with_the_summary(run):
    page = sections(run["path"])
    assert page.h2[0] == "Summary" and next(iter(page.sections)) == "summary"
    summary = " ".join(page.sections["summary"].split())
    for expected in ("synthetic", "60 documents used of 61", "use-multilingual-v3", "6 topics",
                     "12.5 % of modelled segments left as outliers", "dated 2023-01 to 2024-12",
                     "Composition warning: Language 'en' is held by one outlet <outlet-e>"):  # fmt: skip
        assert expected in summary, expected
    # the planted rising theme, with its slope and interval exactly as the trend table has them
    trend = run["tables"]["theme_trends"].set_index("theme").loc["infrastructure"]
    assert trend["direction"] == "rising"
    expected = (f"Infrastructure & compute rising: {100 * trend['slope_per_year']:+.2f} points a year "
                f"({100 * trend['ci_low']:+.2f} to {100 * trend['ci_high']:+.2f})")  # fmt: skip
    assert expected in summary
    assert "Main differences between outlets and languages" in summary


def test_every_figure_has_a_caption(run):
    page = sections(run["path"])
    pngs = [f for f in run["figures"] if f.suffix == ".png"]
    assert len(page.captions) == len(pngs) == 2
    assert all(len(caption.strip()) > 40 for caption in page.captions)
    first, second = (" ".join(c.split()) for c in page.captions)
    assert first.startswith("Themes by language <b>.") and CAPTION + PAYLOAD in first  # sidecar order, as text
    assert second.startswith("Extra figure.") and "No caption was recorded" in second
    figures_text = page.sections["figures"]
    assert "Shares, interactive" in figures_text and "Hover for counts." in figures_text
    html = run["path"].read_text(encoding="utf-8")
    assert re.search(r'<figcaption dir="auto">', html)  # Arabic in captions reads right-to-left


def test_main_tables_are_wide_and_long_tables_fold(run):
    page = sections(run["path"])
    main = page.sections["main-tables"]
    documents = run["tables"]["theme_by_source"].attrs["group_documents"]
    assert f"outlet-a (n = {documents['outlet-a']:,})" in main
    assert "Infrastructure & compute" in main and "Quantum" in main and "other (no theme)" in main
    assert ("all-tables", "table-segments") in page.details
    assert {f"table-{name}" for name in ("theme-by-source", "theme-trends", "representative-segments")} <= {
        d for _, d in page.details
    }


def test_evaluation_numbers_come_with_a_reading():
    negative = {m: r for m, _, r in evaluation_rows({"npmi": -0.25, "topic_diversity": 0.55, "top_n": 10})}
    assert "below chance" in negative["NPMI coherence"] and "not coherent" in negative["NPMI coherence"]
    assert "repeat the same words" in negative["Topic diversity"]
    good = {m: (v, r) for m, v, r in evaluation_rows({"npmi": 0.22, "npmi_per_topic": {"0": 0.3, "1": -0.1}})}
    assert good["NPMI coherence"][0] == "0.220" and "strongly co-occurring" in good["NPMI coherence"][1]
    assert "1 of 2 topics score below 0" in good["NPMI per topic"][1]


def test_methods_references_then_inputs_and_manifest_last(run):
    page = sections(run["path"])
    assert list(page.sections)[-2:] == ["methods-and-references", "inputs-and-run-manifest"]
    methods = page.sections["methods-and-references"]
    for author in ("Grootendorst", "McInnes, L., Healy, J., & Melville", "Campello", "McInnes, L., Healy, J., & Astels",
                   "Yang, Y.", "Bouma", "Lau, J. H.", "Efron, B. (1979)"):  # fmt: skip
        assert author in methods, author
    assert "50 resamples of documents" in " ".join(methods.split())
    assert ("inputs-and-run-manifest", "") in page.details  # 20 input paths, folded
    assert "in/19.csv" in page.sections["inputs-and-run-manifest"]
    assert "in/19.csv" not in page.sections["corpus-and-ledger"]


def test_long_tables_are_cut_with_a_note(run):
    text = " ".join(parse(run["path"]).text)
    n = len(run["segments"])
    assert n > report.MAX_TABLE_ROWS
    assert f"Showing the first {report.MAX_TABLE_ROWS} of {n:,} rows" in text


def test_no_banner_without_fallback_and_missing_figure_is_an_error(tmp_path):
    manifest = {"encoder": {"name": "paraphrase-multilingual-MiniLM-L12-v2", "kind": "sentence-transformers"}}
    path = write_report(tmp_path, title="t", manifest=manifest, ledger_summary={}, tables={}, figures=[])
    assert "FALLBACK ENCODER" not in path.read_text(encoding="utf-8")
    with pytest.raises(FileNotFoundError, match=r"nowhere\.png"):
        write_report(
            tmp_path, title="t", manifest={}, ledger_summary={}, tables={}, figures=[tmp_path / "nowhere.png"]
        )


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
@pytest.mark.skipif(
    _chromium() is None, reason="headless Chromium is not installed (apt-get install chromium)"
)
def test_report_runs_no_corpus_script_in_headless_chromium(run, tmp_path):
    def dom_after_load(path) -> str:
        result = subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--virtual-time-budget=3000", "--dump-dom", path.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    # control: the same payload unescaped does run, so the checks below can see it
    control = tmp_path / "control.html"
    control.write_text(f"<!DOCTYPE html><html><head><title>t</title></head><body>{PAYLOAD}</body></html>")
    control_dom = dom_after_load(control)
    assert "<title>PWNED</title>" in control_dom and "data-pwned" in control_dom
    dom = dom_after_load(run["path"])
    assert "<h1>" in dom  # the page was loaded and serialised
    assert "<title>Themes in &lt;synthetic&gt;</title>" in dom  # the payload did not rename the page
    assert "data-pwned" not in dom
    assert "&lt;script&gt;document.title='PWNED'&lt;/script&gt;" in dom  # shown as text


def test_a_report_rebuilt_from_the_run_folder_keeps_the_table_notes(run, tmp_path):
    """`evaluate` rebuilds the report from tables/*.csv; the notes come back from tables/notes.json."""
    from analysis.export import write_tables
    from analysis.rerun import rebuild_report

    run_dir = tmp_path / "run"
    write_tables(run["tables"], run_dir / "tables")
    (run_dir / "figures").mkdir()
    manifest = {"source": "synthetic", "corpus": {"name": "synthetic"}, "config": {}, "started": "2025-01-02"}
    (run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    page = sections(rebuild_report(run_dir))
    documents = run["tables"]["theme_by_source"].attrs["group_documents"]
    assert f"outlet-a (n = {documents['outlet-a']:,})" in page.sections["main-tables"]
    note = run["tables"]["theme_by_period"].attrs["note"]
    assert note and note in page.sections["all-tables"]
    (run_dir / "tables" / "notes.json").unlink()  # without the sidecar the notes are gone: the check can fail
    assert note not in sections(rebuild_report(run_dir)).sections["all-tables"]


def test_methods_say_how_topics_were_reduced_and_named():
    from analysis.report_text import methods_section

    def methods(**topics) -> str:
        return methods_section({"config": {"topics": topics}, "topics": {"min_topic_size": 10}}, has_comparison=False)

    reduced = methods(nr_topics=30, topic_reduction="smallest_first", representation="distinctive", rival_penalty=0.2)
    assert "reduced to 30 topics" in reduced and "smallest topic into its most similar" in reduced
    assert "less 0.2 of a word's score in its best other topic" in reduced
    one_step = methods(nr_topics=30, topic_reduction="agglomerative", representation="distinctive", rival_penalty=0)
    assert "agglomerative clustering" in one_step and "best other topic" not in one_step
    as_found = methods(representation="ctfidf")
    assert "reduced to" not in as_found and "class-based TF-IDF named them" in as_found
