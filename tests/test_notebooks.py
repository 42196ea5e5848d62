"""The notebooks run top to bottom on the sample corpus, show their charts inline, and their paired files agree."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def test_every_notebook_is_paired_and_in_sync():
    assert [p.stem for p in SCRIPTS][:3] == ["01_corpus", "02_topics", "03_themes_and_trends"]
    for script in SCRIPTS:
        paired = script.with_suffix(".ipynb")
        assert paired.is_file(), f"{paired.name} missing: run `jupytext --sync {script}`"
        from_script = [c.source for c in jupytext.read(script).cells]
        from_notebook = nbformat.read(paired, as_version=4)
        assert [c.source for c in from_notebook.cells] == from_script, f"{paired.name} out of sync"
        assert all(not c.get("outputs") for c in from_notebook.cells if c.cell_type == "code"), (
            f"{paired.name} carries outputs: strip them (jupytext --sync keeps them out of review)"
        )


@pytest.mark.slow
def test_notebooks_execute_in_order_show_charts_inline_and_write_their_figures(tmp_path, monkeypatch):
    """Executed in order, as a user would: notebook 3 reads the run folder notebook 2 wrote.

    Everything is written under tmp_path (ANALYSIS_NOTEBOOK_OUT), so files left by an earlier run
    cannot make the test pass; every figure cell must show its chart inline (an image/png output)."""
    monkeypatch.setenv("ANALYSIS_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(NOTEBOOKS.parent), os.environ.get("PYTHONPATH", "")]))
    inline = {}
    for script in SCRIPTS:
        notebook = jupytext.read(script)
        NotebookClient(
            notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
        ).execute()
        outputs = [o for c in notebook.cells for o in c.get("outputs", [])]
        errors = [o for o in outputs if o.get("output_type") == "error"]
        assert not errors, f"{script.name}: {errors[0]['ename']}: {errors[0]['evalue']}"
        inline[script.stem] = sum("image/png" in o.get("data", {}) for o in outputs)
    assert inline["01_corpus"] >= 1 and inline["02_topics"] >= 3 and inline["03_themes_and_trends"] >= 3, inline
    figures = tmp_path / "figures"
    for stem in ("01_corpus_overview", "02_document_map", "02_top_words", "02_topic_similarity",
                 "03_theme_by_language", "03_theme_by_source", "03_theme_shares_over_time"):  # fmt: skip
        path = figures / f"{stem}.png"
        assert path.is_file() and path.stat().st_size > 2_000, f"{path} not written"
    assert not list(figures.glob("*.svg"))  # the sample configuration asks for PNG only: nothing else
    captions = {e["name"] for e in json.loads((figures / "figures.json").read_text(encoding="utf-8"))}
    assert {"01_corpus_overview", "02_document_map", "03_theme_shares_over_time"} <= captions
    assert (tmp_path / "runs" / "notebooks" / "manifest.json").is_file()
