"""Composition flags, adjusted trends and comparisons on small planted frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.compare import (
    adjusted_trends,
    benjamini_hochberg,
    compare_themes,
    composition,
    holm,
    theme_indicators,
)
from analysis.config import FindingsConfig, TableConfig

KEYS = ["economy", "health"]
TABLES = TableConfig(period="year", n_bootstrap=200, seed=3)


def planted(*, shift: bool, change: bool) -> pd.DataFrame:
    """Two outlets, two segments per article, years 2018-2023, themes planted in exact proportions.

    "Low" (health in 10 % of segments) publishes most in early years, "High" (50 %) in late years:
    the pooled health share rises with composition alone (`shift`). `change` adds a real rise of
    economy within both outlets (from 10 % to 60 %).
    """
    rows = []
    for year in range(2018, 2024):
        late = (year - 2018) / 5
        for source, health_p in (("Low", 0.1), ("High", 0.5)):
            weight = (1 - late if source == "Low" else late) if shift else 0.5
            n_docs = int(10 + 80 * weight)
            economy_p = 0.1 + 0.5 * late if change else 0.2
            for d in range(n_docs):
                doc = f"{source}-{year}-{d}"
                for s in range(2):
                    i = 2 * d + s  # segment number in the cell
                    themes = []
                    if i % 10 < round(10 * health_p):
                        themes.append("health")
                    if (3 * i + 1) % 10 < round(10 * economy_p):
                        themes.append("economy")
                    rows.append({"doc_id": doc, "segment_id": f"{doc}#{s}", "source": source,
                                 "language": "ar" if source == "High" else "fr",
                                 "date": pd.Timestamp(f"{year}-06-01"), "seg_themes": themes,
                                 "theme": themes[0] if themes else "other"})  # fmt: skip
    return pd.DataFrame(rows)


def test_indicators_are_multi_label_with_other_for_none() -> None:
    frame = pd.DataFrame(
        {"seg_themes": [["economy", "health"], [], ["health"]], "theme": ["economy", "other", "x"]}
    )
    table = theme_indicators(frame, KEYS, source="segment")
    assert table.to_numpy().tolist() == [[True, True, False], [False, False, True], [False, True, False]]
    assert theme_indicators(frame, KEYS, source="topic")["economy"].tolist() == [True, False, False]


def test_composition_shift_is_flagged_and_adjusted_trend_is_about_zero() -> None:
    segments = planted(shift=True, change=False)
    trends, by_source = adjusted_trends(segments, KEYS, TABLES, FindingsConfig())
    health = trends.set_index("theme").loc["health"]
    assert health["slope_per_year"] > 0.03 and health["raw_direction"] == "rising"  # raw: composition
    assert abs(health["adjusted_slope_per_year"]) < 0.005
    assert health["direction"] == "no clear trend"
    assert "source mix shifts" in health["flag"]
    assert set(by_source["source"]) == {"High", "Low"}
    info = composition(segments, TABLES, FindingsConfig())
    assert info["source_shift"] >= 0.25 and any("source mix shifts" in w for w in info["warnings"])
    # each language is one outlet here
    assert set(info["one_source_languages"]) == {"ar", "fr"}


def test_a_real_change_within_sources_is_detected() -> None:
    trends, by_source = adjusted_trends(planted(shift=True, change=True), KEYS, TABLES, FindingsConfig())
    economy = trends.set_index("theme").loc["economy"]
    assert economy["direction"] == "rising"
    assert 0.06 < economy["adjusted_slope_per_year"] < 0.14  # planted: 0.5 over 5 years
    assert (by_source[by_source["theme"] == "economy"]["direction"] == "rising").all()


def test_no_shift_no_flag() -> None:
    trends, _ = adjusted_trends(planted(shift=False, change=False), KEYS, TABLES, FindingsConfig())
    assert (trends["flag"] == "'ar' is one outlet; 'fr' is one outlet").all()
    assert (trends["direction"] == "no clear trend").all()


def test_two_period_comparison_detects_the_change_and_not_the_constant_theme() -> None:
    segments = planted(shift=False, change=True)
    findings = FindingsConfig(compare_date="2021-01-01", n_permutations=500)
    table = compare_themes(segments, KEYS, TABLES, findings).set_index("theme")
    assert table.loc["economy", "significant"] and table.loc["economy", "difference"] > 0.2
    assert table.loc["economy", "ci_low"] > 0
    assert not table.loc["health", "significant"]
    assert table.loc["health", "ci_low"] < 0 < table.loc["health", "ci_high"]
    assert table["group_a"].iat[0] == "before 2021-01-01"


def test_group_comparison_flags_a_one_outlet_language() -> None:
    findings = FindingsConfig(compare_by="language", compare_groups=("fr", "ar"), n_permutations=200)
    table = compare_themes(planted(shift=False, change=False), KEYS, TABLES, findings).set_index("theme")
    assert table.loc["health", "difference"] == pytest.approx(0.4, abs=0.08)
    assert table.loc["health", "significant"]
    assert "one outlet" in table["flag"].iat[0]


def test_corrections_match_their_definitions() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.5])
    assert holm(p).tolist() == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert benjamini_hochberg(p).tolist() == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])


def test_comparison_figure_and_report_warnings(tmp_path) -> None:
    import matplotlib.pyplot as plt

    from analysis.figures import plot_theme_comparison
    from analysis.report import write_report

    segments = planted(shift=True, change=True)
    findings = FindingsConfig(compare_date="2021-01-01", n_permutations=200)
    table = compare_themes(segments, KEYS, TABLES, findings)
    fig, ax = plot_theme_comparison(table)
    drawn = sorted(table.loc[table["theme"] != "other", "theme"])
    assert sorted(t.get_text() for t in ax.get_yticklabels()) == drawn  # "other" is named, not drawn
    assert '"other" (no theme), not drawn' in ax.get_xlabel()
    assert "FLAG" in ax.get_title(loc="left")  # the two periods rest on different outlets
    plt.close(fig)
    trends, _ = adjusted_trends(segments, KEYS, TABLES, FindingsConfig())
    info = composition(segments, TABLES, FindingsConfig())
    page = write_report(
        tmp_path, title="t", manifest={}, ledger_summary={}, tables={"theme_trends": trends}, figures=[],
        findings={"theme_source": "segment", "warnings": info["warnings"]},
    )  # fmt: skip
    html = page.read_text(encoding="utf-8")
    assert html.count('class="warning"') == len(info["warnings"]) >= 2
    assert "adjusted_slope_per_year" in html and "segment themes" in html
