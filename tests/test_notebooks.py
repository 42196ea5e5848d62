"""The notebooks run top to bottom on the sample corpus, and their paired files agree."""

from __future__ import annotations

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
def test_notebooks_execute_in_order_and_write_their_figures(tmp_path):
    """Executed in order, as a user would: notebook 3 reads the run folder notebook 2 wrote."""
    figures = NOTEBOOKS.parent / "figures"
    for script in SCRIPTS:
        notebook = jupytext.read(script)
        NotebookClient(
            notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
        ).execute()
        errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{script.name}: {errors[0]['ename']}: {errors[0]['evalue']}"
    for stem in (
        "01_corpus_overview",
        "02_document_map",
        "02_top_words",
        "03_theme_by_language",
        "03_theme_shares_over_time",
    ):
        for ext in ("png", "svg", "pdf"):
            path = figures / f"{stem}.{ext}"
            assert path.is_file() and path.stat().st_size > 2_000, f"{path} not written"
