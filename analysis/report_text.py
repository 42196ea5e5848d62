"""The words of the report: its summary, a reading of each evaluation number, the methods and references.

`analysis.report` lays out the page; this module decides what it says. Every sentence is built
from the run's own numbers (manifest, tables, evaluation), so the summary cannot drift from the
tables below it. Returned HTML is escaped here; corpus text (source names, theme labels) never
reaches the page unescaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape
from typing import Any

import pandas as pd

from analysis.export import OTHER, number_or_none, theme_name

# How many differences and trends the summary names; the tables below hold all of them.
SUMMARY_ITEMS = 3

REFERENCES = {
    "bertopic": "Grootendorst, M. (2022). BERTopic: Neural topic modeling with a class-based TF-IDF "
    "procedure. arXiv:2203.05794.",
    "umap": "McInnes, L., Healy, J., &amp; Melville, J. (2018). UMAP: Uniform Manifold Approximation and "
    "Projection for Dimension Reduction. arXiv:1802.03426.",
    "hdbscan2013": "Campello, R. J. G. B., Moulavi, D., &amp; Sander, J. (2013). Density-based clustering "
    "based on hierarchical density estimates. In <em>Advances in Knowledge Discovery and Data Mining "
    "(PAKDD 2013)</em>, LNCS 7819, 160–172. Springer.",
    "hdbscan2017": "McInnes, L., Healy, J., &amp; Astels, S. (2017). hdbscan: Hierarchical density based "
    "clustering. <em>Journal of Open Source Software</em>, 2(11), 205.",
    "use": "Yang, Y., Cer, D., Ahmad, A., Guo, M., Law, J., Constant, N., Hernandez Abrego, G., Yuan, S., "
    "Tar, C., Sung, Y.-H., Strope, B., &amp; Kurzweil, R. (2020). Multilingual Universal Sentence Encoder "
    "for Semantic Retrieval. In <em>Proceedings of ACL 2020: System Demonstrations</em>, 87–94.",
    "sbert": "Reimers, N., &amp; Gurevych, I. (2019). Sentence-BERT: Sentence Embeddings using Siamese "
    "BERT-Networks. In <em>Proceedings of EMNLP-IJCNLP 2019</em>, 3982–3992.",
    "npmi2009": "Bouma, G. (2009). Normalized (pointwise) mutual information in collocation extraction. "
    "In <em>Proceedings of the Biennial GSCL Conference 2009</em>, 31–40.",
    "npmi2014": "Lau, J. H., Newman, D., &amp; Baldwin, T. (2014). Machine reading tea leaves: "
    "Automatically evaluating topic coherence and topic model quality. In <em>Proceedings of EACL "
    "2014</em>, 530–539.",
    "diversity": "Dieng, A. B., Ruiz, F. J. R., &amp; Blei, D. M. (2020). Topic modeling in embedding "
    "spaces. <em>Transactions of the Association for Computational Linguistics</em>, 8, 439–453.",
    "bootstrap1979": "Efron, B. (1979). Bootstrap methods: Another look at the jackknife. <em>The Annals "
    "of Statistics</em>, 7(1), 1–26.",
    "bootstrap1993": "Efron, B., &amp; Tibshirani, R. J. (1993). <em>An Introduction to the Bootstrap</em>. "
    "Chapman &amp; Hall.",
    "holm": "Holm, S. (1979). A simple sequentially rejective multiple test procedure. <em>Scandinavian "
    "Journal of Statistics</em>, 6(2), 65–70.",
    "bh": "Benjamini, Y., &amp; Hochberg, Y. (1995). Controlling the false discovery rate: A practical and "
    "powerful approach to multiple testing. <em>Journal of the Royal Statistical Society B</em>, 57(1), "
    "289–300.",
    "kappa": "Cohen, J. (1960). A coefficient of agreement for nominal scales. <em>Educational and "
    "Psychological Measurement</em>, 20(1), 37–46.",
}


# --- the summary -----------------------------------------------------------------------------------


def summary_section(
    manifest: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    *,
    evaluation: Mapping[str, Any] | None,
    findings: Mapping[str, Any] | None,
    selection: Mapping[str, Any] | None,
    theme_labels: Mapping[str, str],
) -> str:
    """The report's opening: what was analysed, how, and what the run found, with intervals and warnings."""
    label = _labeller(theme_labels)
    facts = [
        ("Corpus", _corpus_line(manifest)),
        ("Selection", _selection_line(selection)),
        ("Encoder", _encoder_line(manifest.get("encoder", {}))),
        ("Topics", _topics_line(manifest.get("topics", {}), evaluation or {})),
        ("Themes", _themes_line(findings or {}, manifest)),
    ]
    parts = ['<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts if v) + "</dl>"]
    parts += [
        f'<p class="warning" dir="auto"><strong>Composition warning:</strong> {escape(str(w))}</p>'
        for w in (findings or {}).get("warnings", [])
    ]
    parts.append("<h3>Main differences between outlets and languages</h3>")
    parts.append(_differences(tables, label))
    parts.append("<h3>Trends</h3>")
    parts.append(_trends(tables.get("theme_trends"), label))
    if "theme_comparison" in tables and len(tables["theme_comparison"]):
        parts.append("<h3>Comparison</h3>")
        parts.append(_comparison(tables["theme_comparison"], label))
    parts.append(
        '<p class="note">Shares are of segments (paragraphs); intervals are 95 % bootstrap intervals '
        "over documents unless the table says otherwise. The tables and figures below hold every theme.</p>"
    )
    return "\n".join(parts)


def _labeller(theme_labels: Mapping[str, str]):
    return lambda key: theme_name(key, theme_labels)


def _corpus_line(manifest: Mapping[str, Any]) -> str:
    corpus = manifest.get("corpus", {}) or {}
    documents = corpus.get("documents", {}) or {}
    segments = corpus.get("segments", {}) or {}
    sources = corpus.get("segments_by_source", {}) or {}
    languages = corpus.get("segments_by_language", {}) or {}
    months = sorted((corpus.get("segments_by_month", {}) or {}).keys())
    parts = [f"<strong>{escape(str(corpus.get('name', manifest.get('source', '?'))))}</strong>"]
    if documents:
        parts.append(f"{_int(documents.get('used'))} documents used of {_int(documents.get('inputs'))} read")
    if segments:
        parts.append(f"{_int(segments.get('total'))} segments ({_int(segments.get('modelled'))} modelled)")
    if sources:
        parts.append(f"{len(sources)} source(s): " + ", ".join(f"{escape(str(k))} {_int(v)}" for k, v in sources.items()))
    if languages:
        parts.append("languages: " + ", ".join(f"{escape(str(k))} {_int(v)}" for k, v in languages.items()))
    if months:
        parts.append(f"dated {escape(months[0])} to {escape(months[-1])}")
    return "; ".join(parts) + "."


def _selection_line(selection: Mapping[str, Any] | None) -> str:
    if not selection:
        return "none: every segment of the corpus."
    kept = selection.get("kept", {}) or {}
    steps = selection.get("steps", []) or []
    first = steps[0] if steps else {}
    return (
        f"at {escape(str(selection.get('level', '?')))} level: {_int(kept.get('segments'))} of "
        f"{_int(first.get('segments'))} segments, {_int(kept.get('documents'))} of "
        f"{_int(first.get('documents'))} documents kept (rules under <a href=\"#selection\">Selection</a>)."
    )


def _encoder_line(encoder: Any) -> str:
    if not isinstance(encoder, Mapping):
        return escape(str(encoder))
    name = escape(str(encoder.get("name", "?")))
    package = encoder.get("package")
    text = f"{name}" + (f" ({escape(str(package))} {escape(str(encoder.get('version', '')))})" if package else "")
    if encoder.get("fallback_reason"):
        text += f"; <strong>fallback</strong> for {escape(str(encoder.get('requested_model', '?')))}"
    return text + "."


def _topics_line(topics: Mapping[str, Any], evaluation: Mapping[str, Any]) -> str:
    n = topics.get("n_topics", evaluation.get("n_topics"))
    if n is None:
        return ""
    outliers = topics.get("outlier_share", evaluation.get("outlier_share"))
    text = f"{_int(n)} topics"
    if outliers is not None:
        text += f", {_pct(outliers)} of modelled segments left as outliers"
    if topics.get("min_topic_size"):
        text += f" (minimum topic size {_int(topics['min_topic_size'])})"
    npmi = number_or_none(evaluation.get("npmi"))
    if npmi is not None:
        text += f"; NPMI coherence {npmi:.2f} ({_npmi_word(npmi)}, see <a href=\"#evaluation\">Evaluation</a>)"
    return text + "."


def _themes_line(findings: Mapping[str, Any], manifest: Mapping[str, Any]) -> str:
    codebook = (manifest.get("topics", {}) or {}).get("codebook", "")
    route = findings.get("theme_source")
    text = f"codebook {escape(str(codebook))}" if codebook else ""
    if route:
        text += (", " if text else "") + (
            "read from each segment's own themes (segment route)"
            if route == "segment"
            else "read from the theme each segment's topic maps to (topic route)"
        )
    kappa = number_or_none(findings.get("kappa_topic_vs_segment"))
    if kappa is not None:
        text += f"; the two routes agree with Cohen's kappa {kappa:.2f}"
    return text + "." if text else ""


def _differences(tables: Mapping[str, pd.DataFrame], label) -> str:
    items = []
    for name in ("theme_by_source", "theme_by_language"):
        table = tables.get(name)
        if table is None or not len(table) or "theme" not in table:
            continue
        items += _spreads(table, label)
    if not items:
        return '<p class="note">No share table by source or language in this run.</p>'
    items.sort(key=lambda item: -item[0])
    seen: set[str] = set()  # one line per theme: by language often repeats by source (one outlet per language)
    clear = [text for gap, theme, text in items if gap > 0 and not (theme in seen or seen.add(theme))]
    clear = clear[:SUMMARY_ITEMS]
    if not clear:
        return (
            "<p>No theme's share differs between outlets or languages beyond the intervals "
            "(every highest group's interval overlaps the lowest group's).</p>"
        )
    return (
        '<p class="note">The largest gaps between a theme\'s highest and lowest outlet or language, where their '
        "intervals do not overlap (groups with too few documents left out).</p>"
        '<ul dir="auto">' + "".join(f"<li>{t}</li>" for t in clear) + "</ul>"
    )


def _spreads(table: pd.DataFrame, label) -> list[tuple[float, str, str]]:
    """Per theme, its highest and lowest group when their intervals do not overlap (gap > 0)."""
    frame = table[table["theme"].astype(str) != OTHER]
    if "small_cell" in frame:
        frame = frame[~frame["small_cell"].astype(str).str.lower().isin(["true", "1"])]
    result = []
    for theme, part in frame.groupby("theme", sort=False):
        if part["group"].nunique() < 2:
            continue
        high = part.loc[part["share"].astype(float).idxmax()]
        low = part.loc[part["share"].astype(float).idxmin()]
        gap = float(high["ci_low"]) - float(low["ci_high"])
        text = (
            f"<strong>{escape(label(theme))}</strong>: {_share(high)} of {escape(str(high['group']))} segments "
            f"against {_share(low)} of {escape(str(low['group']))}."
        )
        result.append((gap if gap > 0 else -1.0, str(theme), text))
    return result


def _share(row: pd.Series) -> str:
    return f"{_pct(row['share'])} ({_pct(row['ci_low'], unit=False)}–{_pct(row['ci_high'], unit=False)})"


def _trends(trends: pd.DataFrame | None, label) -> str:
    if trends is None or not len(trends):
        return '<p class="note">No trend table in this run.</p>'
    adjusted = "adjusted_slope_per_year" in trends
    slope, low, high = (
        ("adjusted_slope_per_year", "adjusted_ci_low", "adjusted_ci_high") if adjusted
        else ("slope_per_year", "ci_low", "ci_high")
    )  # fmt: skip
    moving = trends[trends["direction"].astype(str).isin(["rising", "falling"])]
    moving = moving[moving["theme"].astype(str) != OTHER]
    if not len(moving):
        reason = str(trends["direction"].iat[0]) if trends["direction"].astype(str).str.startswith("n/a").all() else ""
        return f"<p>No theme rises or falls beyond its interval{' (' + escape(reason) + ')' if reason else ''}.</p>"
    moving = moving.assign(size=moving[slope].map(lambda v: abs(number_or_none(v) or 0.0))).sort_values("size", ascending=False)
    items = []
    for _, r in moving.head(SUMMARY_ITEMS).iterrows():
        text = (
            f"<strong>{escape(label(r['theme']))}</strong> {escape(str(r['direction']))}: "
            f"{_points(r[slope])} points a year{' within sources' if adjusted else ''} "
            f"({_points(r[low])} to {_points(r[high])})"
        )
        if adjusted:
            text += f"; raw {_points(r['slope_per_year'])} ({escape(str(r.get('raw_direction', '')))})"
            raw, within = number_or_none(r["slope_per_year"]), number_or_none(r[slope])
            if raw is not None and within is not None and raw * within < 0:
                text += " — <strong>the raw trend points the other way</strong>: it is a change of sources"
        if str(r.get("flag", "")).strip():
            text += f' <span class="flag">({escape(str(r["flag"]))})</span>'
        items.append(f"<li>{text}.</li>")
    if not adjusted:
        items.append(
            "<li><strong>These are raw trends</strong>: this run has no composition-adjusted (within-source) "
            "slope, so a change in which outlets were collected reads as a trend. Rerun to separate them.</li>"
        )
    more = len(moving) - SUMMARY_ITEMS
    tail = f'<p class="note">{more} more theme(s) move; see the trend table.</p>' if more > 0 else ""
    return '<ul dir="auto">' + "".join(items) + "</ul>" + tail


def _comparison(comparison: pd.DataFrame, label) -> str:
    comparison = comparison[comparison["theme"].astype(str) != OTHER]
    if not len(comparison):
        return '<p class="note">The comparison has no theme besides "no theme".</p>'
    significant = comparison[comparison["significant"].astype(str).str.lower().isin(["true", "1"])]
    first = comparison.iloc[0]
    head = f"{escape(str(first.get('group_a', 'A')))} against {escape(str(first.get('group_b', 'B')))}: "
    if not len(significant):
        return f"<p>{head}no theme differs after adjusting for the number of themes.</p>"
    significant = significant.assign(size=significant["difference"].map(lambda v: abs(number_or_none(v) or 0.0)))
    items = [
        f"<li><strong>{escape(label(r['theme']))}</strong>: {_pct(r['share_a'])} → {_pct(r['share_b'])} "
        f"({_points(r['difference'])} points, {_points(r['ci_low'])} to {_points(r['ci_high'])}; "
        f"adjusted p = {float(r['p_adjusted']):.3f})"
        + (f' <span class="flag">({escape(str(r["flag"]))})</span>' if str(r.get("flag", "")).strip() else "")
        + ".</li>"
        for _, r in significant.sort_values("size", ascending=False).head(SUMMARY_ITEMS).iterrows()
    ]
    return f"<p>{head}{len(significant)} of {len(comparison)} themes differ.</p><ul dir=\"auto\">{''.join(items)}</ul>"


# --- evaluation ------------------------------------------------------------------------------------


def evaluation_rows(evaluation: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(measure, value, what it means) for each evaluation number a reader should weigh."""
    rows: list[tuple[str, str, str]] = []
    npmi = number_or_none(evaluation.get("npmi"))
    top_n = evaluation.get("top_n", 10)
    if npmi is not None:
        rows.append(("NPMI coherence", f"{npmi:.3f}", _npmi_reading(npmi, top_n)))
    per_topic = evaluation.get("npmi_per_topic") or {}
    scores = {k: v for k, v in ((k, number_or_none(v)) for k, v in per_topic.items()) if v is not None}
    if scores:
        values = sorted(scores.values())
        worst = sorted(scores, key=scores.get)[:3]
        negative = sum(v < 0 for v in values)
        rows.append((
            "NPMI per topic",
            f"median {values[len(values) // 2]:.3f}, lowest {values[0]:.3f}",
            f"{negative} of {len(values)} topics score below 0 (their words meet less often than chance: "
            f"read them with care); weakest: topic(s) {', '.join(worst)}.",
        ))  # fmt: skip
    for language, value in (evaluation.get("npmi_per_language") or {}).items():
        value = number_or_none(value)
        if value is not None:
            rows.append((f"NPMI, {language} words", f"{value:.3f}", _npmi_reading(value, top_n, short=True)))
    diversity = number_or_none(evaluation.get("topic_diversity"))
    if diversity is not None:
        rows.append(("Topic diversity", f"{diversity:.3f}", _diversity_reading(diversity, top_n)))
    outliers = number_or_none(evaluation.get("outlier_share"))
    if outliers is not None:
        rows.append((
            "Outlier share", _pct(outliers),
            f"{_pct(outliers)} of modelled segments belong to no topic (-1); they count as 'no theme' on the "
            "topic route. " + ("High: many segments are unlike any dense cluster." if outliers > 0.3 else ""),
        ))  # fmt: skip
    dropped = evaluation.get("npmi_words_dropped") or {}
    if dropped:
        rows.append((
            "Topic words not scored", ", ".join(f"{k} {v}" for k, v in dropped.items()),
            "Multi-word terms and words absent from the tokenised segments cannot enter NPMI; the score rests "
            "on the remaining words.",
        ))  # fmt: skip
    external = evaluation.get("external_validity") or {}
    if external:
        rows.append((
            f"Agreement with '{external.get('label_column', 'labels')}'",
            f"ARI {float(external.get('ari', math.nan)):.3f}, NMI {float(external.get('nmi', math.nan)):.3f}",
            "Adjusted Rand index: 0 = chance agreement with the reference labels, 1 = the same partition; "
            "NMI: shared information, 0 to 1. Topics need not match labels to be useful.",
        ))  # fmt: skip
    cross = evaluation.get("cross_lingual") or {}
    if cross and number_or_none(cross.get("matches")) is not None:
        rows.append((
            "Cross-lingual matches", _pct(cross["matches"]),
            f"Share of {cross.get('pairs', '?')} translated story pairs whose versions land in the same topic: "
            "a multilingual model should put a story in one topic whatever its language.",
        ))  # fmt: skip
    stability = evaluation.get("seed_stability") or {}
    if stability and number_or_none(stability.get("ari_mean")) is not None:
        ari = float(stability["ari_mean"])
        rows.append((
            "Seed stability", f"ARI {ari:.3f} (NMI {float(stability.get('nmi_mean', math.nan)):.3f})",
            "Agreement between refits with other seeds; "
            + ("topics are stable under the seed." if ari >= 0.6 else "below .6: topics depend on the seed, "
               "so read single topics with care and themes (which pool topics) first."),
        ))  # fmt: skip
    return rows


def _npmi_word(value: float) -> str:
    if value < 0:
        return "words meet less often than chance"
    if value < 0.05:
        return "weak"
    if value < 0.15:
        return "moderate"
    return "good for news topics"


def _npmi_reading(value: float, top_n: Any, *, short: bool = False) -> str:
    scale = (
        f"Mean normalised PMI of each topic's top {top_n} word pairs over this corpus's segments: −1 = the words "
        "never appear together, 0 = together as often as chance, 1 = always together. "
    )
    if value < 0:
        verdict = f"{value:.2f} is below chance: the topics' words do not belong together; the topics are not coherent."
    elif value < 0.05:
        verdict = f"{value:.2f} is barely above chance: weak topics."
    elif value < 0.15:
        verdict = f"{value:.2f}: words co-occur clearly more than chance (moderate coherence)."
    else:
        verdict = (
            f"{value:.2f}: strongly co-occurring words, in the range BERTopic reports on news benchmarks "
            "(about .16–.17; scores depend on the corpus, so compare runs of one corpus)."
        )
    return verdict if short else scale + verdict


def _diversity_reading(value: float, top_n: Any) -> str:
    text = f"Share of distinct words among all topics' top {top_n} words: 1 = no topic repeats another's words. "
    if value >= 0.8:
        return text + f"{value:.2f}: topics are well separated."
    if value >= 0.6:
        return text + f"{value:.2f}: some topics share words; look for near-duplicates in the similarity figure."
    return text + f"{value:.2f}: many topics repeat the same words (redundant topics)."


# --- methods ---------------------------------------------------------------------------------------


def _reduction_text(topics: Mapping[str, Any]) -> str:
    """How the clusters were reduced to `nr_topics`, when the run asked for a number of topics."""
    if not topics.get("nr_topics"):
        return ""
    if topics.get("topic_reduction", "smallest_first") == "smallest_first":
        how = "merging the smallest topic into its most similar one at a time, as BERTopic 0.9 did"
    else:
        how = "BERTopic's agglomerative clustering of the topic embeddings"
    return f", reduced to {escape(str(topics['nr_topics']))} topics (outliers counted) by {how}"


def _naming_text(topics: Mapping[str, Any]) -> str:
    """How the topics' words were chosen (the representation of this run)."""
    representation = str(topics.get("representation", "distinctive"))
    if representation == "ctfidf":
        return "class-based TF-IDF named them"
    if representation != "distinctive":
        return f"class-based TF-IDF words re-ranked by {escape(representation)} named them"
    penalty = float(topics.get("rival_penalty", 0.0) or 0.0)
    rival = (
        f", less {penalty:g} of a word's score in its best other topic so that neighbouring topics are not "
        "named by the words they share"
        if penalty
        else ""
    )
    return (
        "they were named by their distinctive words (the words most of a topic's segments use and the rest "
        f"of the corpus does not{rival})"
    )


def methods_section(manifest: Mapping[str, Any], *, has_comparison: bool) -> str:
    """How the numbers were made, with the settings of this run and the references to cite."""
    config = manifest.get("config", {}) or {}
    corpus, topics = config.get("corpus", {}) or {}, config.get("topics", {}) or {}
    tables, findings = config.get("tables", {}) or {}, config.get("findings", {}) or {}
    fitted = manifest.get("topics", {}) or {}
    encoder = manifest.get("encoder", {}) or {}
    kind = encoder.get("kind", "") if isinstance(encoder, Mapping) else ""
    encoder_ref = "Yang et al., 2020" if kind == "use" else "Reimers &amp; Gurevych, 2019"
    confidence = float(tables.get("confidence", 0.95))
    adjust = findings.get("p_adjust", "holm")
    paragraphs = [
        f"<strong>Segments.</strong> Documents were cleaned, deduplicated (exact and near duplicates, threshold "
        f"{escape(str(corpus.get('near_duplicate_threshold', '?')))}) and cut into "
        f"{escape(str(corpus.get('segment_by', 'paragraph')))} segments; every document read is accounted for "
        "in ledger.csv.",
        f"<strong>Embeddings.</strong> Each segment was embedded with {escape(str(encoder.get('name', '?')))} "
        f"({encoder_ref}), which places texts in Arabic, French and English in one space.",
        "<strong>Topics.</strong> BERTopic (Grootendorst, 2022): UMAP (McInnes et al., 2018) reduced the "
        f"embeddings to {escape(str(fitted.get('n_components', topics.get('n_components', '?'))))} dimensions "
        f"({escape(str(fitted.get('n_neighbors', '?')))} neighbours), HDBSCAN (Campello et al., 2013; McInnes "
        f"et al., 2017) found dense clusters (minimum size {escape(str(fitted.get('min_topic_size', '?')))}, "
        f"seed {escape(str(fitted.get('seed', topics.get('seed', '?'))))}){_reduction_text(topics)}, and "
        f"{_naming_text(topics)}, per language. Segments in no cluster are outliers (topic −1).",
        "<strong>Coherence.</strong> NPMI (Bouma, 2009) of each topic's top words, counted over this corpus's "
        "segments as in Lau et al. (2014); topic diversity as in Dieng et al. (2020).",
        "<strong>Shares and intervals.</strong> A theme's share is the share of a group's segments carrying "
        f"it. Intervals are {100 * confidence:.0f} % percentile bootstrap intervals (Efron, 1979; Efron &amp; "
        f"Tibshirani, 1993) from {escape(str(tables.get('n_bootstrap', '?')))} resamples of <em>documents</em>, "
        "not segments, because the paragraphs of one article are not independent "
        f"(seed {escape(str(tables.get('seed', '?')))}). Trends are weighted least-squares slopes over periods; "
        "the composition-adjusted trend adds a fixed effect per source, so it measures change within outlets.",
    ]
    if has_comparison:
        paragraphs.append(
            "<strong>Comparison.</strong> Differences between two groups come with a bootstrap interval and a "
            f"permutation p-value ({escape(str(findings.get('n_permutations', '?')))} shuffles of documents), "
            + ("Holm-adjusted (Holm, 1979)" if adjust == "holm" else "Benjamini–Hochberg-adjusted (Benjamini "
               "&amp; Hochberg, 1995)")
            + " over themes. The two theme routes are compared with Cohen's kappa (Cohen, 1960)."
        )
    keys = ["bertopic", "umap", "hdbscan2013", "hdbscan2017", "use" if kind == "use" else "sbert",
            "npmi2009", "npmi2014", "diversity", "bootstrap1979", "bootstrap1993"]  # fmt: skip
    keys += ["holm" if adjust == "holm" else "bh", "kappa"] if has_comparison else []
    references = "".join(f"<li>{REFERENCES[k]}</li>" for k in sorted(keys, key=lambda k: REFERENCES[k]))
    return "".join(f"<p>{p}</p>" for p in paragraphs) + f'<h3>References</h3><ul class="refs">{references}</ul>'


# --- formatting ------------------------------------------------------------------------------------




def _pct(value: Any, *, unit: bool = True) -> str:
    number = number_or_none(value)
    return "?" if number is None else f"{100 * number:.1f} %" if unit else f"{100 * number:.1f}"


def _points(value: Any) -> str:
    number = number_or_none(value)
    return "?" if number is None else f"{100 * number:+.2f}"


def _int(value: Any) -> str:
    number = number_or_none(value)
    return "?" if number is None else f"{int(number):,}"
