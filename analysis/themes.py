"""Themes: map topics to themes, give segments their themes, audit the codebook.

A codebook (TOML, `analysis/data/codebook.toml` by default) names the analyst's themes, each with a
description and terms in English, French, Arabic and Darija. It is used three ways: to seed
guided or zero-shot BERTopic (`analysis.topics`), to map each discovered topic to its best theme,
and to score every segment by term matches — an independent check on the topic-based mapping
that needs no model at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.codebook import (  # noqa: F401 (re-exported: the codebook API has lived here)
    OTHER,
    PACKAGED_CODEBOOK,
    TERM_LANGUAGES,
    Codebook,
    CodebookError,
    Theme,
    codebook_to_toml,
    load_codebook,
)
from analysis.dictionary import (  # noqa: F401 (re-exported: the dictionary API has lived here)
    MatchingTexts,
    best_dictionary_theme,
    dictionary_hits,
    dictionary_scores,
    matching_texts,
    normalise_for_matching,
    terms_pattern,
    theme_patterns,
)
from analysis.encoders.base import Encoder, unit_rows

# ---------------------------------------------------------------------------------------------
# Topic → theme


COSINE_WEIGHT = 0.5  # weight of the embedding cosine against the dictionary share
# A theme needs this share of a topic's segments to mention one of its terms: an embedding cosine alone
# (or three stray matches in a topic of a thousand football reports) never names a topic's theme.
MIN_DICTIONARY_SHARE = 0.1
MAX_DOCS_ENCODED = 64  # segments per topic encoded when no centroid is given


def map_topics_to_themes(
    topic_docs: Mapping[int, Sequence[str]],
    codebook: Codebook,
    *,
    encoder: Encoder | None = None,
    topic_embeddings: Mapping[int, np.ndarray] | None = None,
    min_score: float = 0.05,
    dictionary: Mapping[int, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Each topic's best theme and score, or `other` when the score is below `min_score`.

    `dictionary` may hold each topic's `dictionary_scores` rows (texts × themes), already computed,
    so that large corpora are not scored twice.

    `topic_docs` maps a topic to its segments (or to its top words: any texts that stand for it).
    For topic t and theme h:

        dict_share(t, h) = share of the topic's segments that mention at least one term of h
        cosine(t, h)     = max(0, cos(centroid(t), embed(label + description + terms of h)))
        theme_score      = w · cosine + (1 − w) · dict_share   with w = COSINE_WEIGHT, encoder given
                         = dict_share                           without an encoder

    The centroid is `topic_embeddings[t]` when given (it must come from the same encoder), else
    the mean embedding of up to MAX_DOCS_ENCODED of the topic's texts. Only themes with
    dict_share >= MIN_DICTIONARY_SHARE compete; a topic with none of them, or whose best score is below
    `min_score`, maps to `other`. Topic -1 (outliers) is always `other`. Columns: topic, theme, theme_score, dict_share, cosine (the last two for the
    chosen theme, to show which evidence decided).
    """
    topics = list(topic_docs)
    keys = codebook.keys
    shares = np.zeros((len(topics), len(keys)))
    for row, topic in enumerate(topics):
        topic_scores = (
            np.asarray(dictionary[topic]) if dictionary is not None
            else dictionary_scores(list(topic_docs[topic]), codebook).to_numpy()
        )  # fmt: skip
        if len(topic_scores):
            shares[row] = (topic_scores > 0).mean(axis=0)
    cosines = np.zeros_like(shares)
    if encoder is not None and topics:
        theme_vectors = unit_rows(encoder.encode([theme.text() for theme in codebook.themes]), np.float64)
        centroids = np.vstack(
            [
                _topic_centroid(topic, topic_docs[topic], encoder, topic_embeddings, theme_vectors.shape[1])
                for topic in topics
            ]
        )
        cosines = np.clip(unit_rows(centroids, np.float64) @ theme_vectors.T, 0.0, None)
        scores = COSINE_WEIGHT * cosines + (1 - COSINE_WEIGHT) * shares
    else:
        scores = shares
    scores = np.where(shares >= MIN_DICTIONARY_SHARE, scores, 0.0)
    rows = []
    for row, topic in enumerate(topics):
        best = int(scores[row].argmax()) if keys else 0
        score = float(scores[row, best]) if keys else 0.0
        matched = topic != -1 and keys and score > 0 and score >= min_score
        rows.append(
            {
                "topic": topic,
                "theme": keys[best] if matched else OTHER,
                "theme_score": round(score, 4) if topic != -1 else 0.0,
                "dict_share": round(float(shares[row, best]), 4) if keys else 0.0,
                "cosine": round(float(cosines[row, best]), 4) if keys else 0.0,
            }
        )
    return pd.DataFrame(rows, columns=["topic", "theme", "theme_score", "dict_share", "cosine"])


def _topic_centroid(
    topic: int,
    docs: Sequence[str],
    encoder: Encoder,
    topic_embeddings: Mapping[int, np.ndarray] | None,
    dimension: int,
) -> np.ndarray:
    if topic_embeddings is not None and topic in topic_embeddings:
        centroid = np.asarray(topic_embeddings[topic], dtype=np.float64)
        if centroid.shape != (dimension,):
            raise ValueError(
                f"topic {topic}: centroid has shape {centroid.shape} but the encoder gives {dimension}-d vectors; "
                "pass centroids of embeddings made by the same encoder, or none"
            )
        return centroid
    sample = [doc for doc in docs if doc][:MAX_DOCS_ENCODED]
    if not sample:
        return np.zeros(dimension)
    return np.asarray(encoder.encode(sample), dtype=np.float64).mean(axis=0)


# ---------------------------------------------------------------------------------------------
# Codebook audit

# A specific term matching more than this share of the segments of a general news corpus (one not
# selected for the codebook's subject, such as morocco-news) names everyday news, not the theme:
# the audit flags it, and it belongs in the theme's `generic` list. Measured on morocco-news (28,208
# segments): AI-specific phrases stay below 0.1 %; "citizens", "justice", "water", "health" are 1-4 %.
GENERIC_SEGMENT_SHARE = 0.01
AUDIT_COLUMNS = ["theme", "kind", "language", "term", "n_segments", "segment_share", "n_counted", "flag"]


def codebook_audit(
    texts: Sequence[str],
    codebook: Codebook,
    *,
    languages: Sequence[str] | None = None,
    generic_share: float = GENERIC_SEGMENT_SHARE,
) -> pd.DataFrame:
    """Each term's hits in `texts`: segments it matches, their share, and how many it counts in.

    `segment_share` is over the segments in the term's language when `languages` (one code per
    text) is given (Darija terms: Arabic segments), else over all. `n_counted` is the segments
    where the match counts for its theme (a generic term: only next to one of the theme's specific
    terms). `flag` says "generic?" for a specific term above `generic_share`: run the audit on a
    general news corpus to see which terms drive a theme there for reasons unrelated to it.
    """
    texts = list(texts)
    matched = matching_texts(texts)
    anchored = dictionary_hits(texts, codebook)[0] > 0
    codes = np.asarray(list(languages) if languages is not None else [""] * len(texts), dtype=object)
    rows = []
    for column, theme in enumerate(codebook.themes):
        for kind, lists in (("specific", theme.terms), ("generic", theme.generic)):
            for language, terms in lists.items():
                in_language = codes == {"darija": "ar"}.get(language, language)
                denominator = int(in_language.sum()) if languages is not None else len(texts)
                for term in terms:
                    hit_rows = _term_hits(term, matched)
                    counted = len(hit_rows) if kind == "specific" else int(anchored[hit_rows, column].sum())
                    share = len(hit_rows) / max(denominator, 1)
                    flag = "generic?" if kind == "specific" and share > generic_share else ""
                    rows.append((theme.key, kind, language, term, len(hit_rows), share, counted, flag))
    table = pd.DataFrame(rows, columns=AUDIT_COLUMNS)
    order = {key: i for i, key in enumerate(codebook.keys)}
    table = (
        table.assign(_order=table["theme"].map(order))
        .sort_values(["_order", "segment_share", "term"], ascending=[True, False, True])
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    table.attrs["note"] = (
        f"{len(texts):,} segments; share over the segments in the term's language"
        if languages is not None else f"{len(texts):,} segments"
    ) + (
        f"; a specific term above {generic_share:.1%} is flagged generic?; generic terms count only "
        "next to a specific term of their theme (n_counted)"
    )  # fmt: skip
    return table


def _term_hits(term: str, matched: MatchingTexts) -> np.ndarray:
    """Rows of `matched` texts that match `term` (`MatchingTexts.count_matches`)."""
    return np.array(sorted(matched.count_matches([term])), dtype=int)


# ---------------------------------------------------------------------------------------------
# Themes per segment (multi-label) and agreement with the topic route

# A segment carries theme h when the dictionary and the encoder, together, say so:
#     hits(s, h) >= DICT_HITS_ALONE                       two anchored term hits suffice, or
#     hits(s, h) >= 1 and z(s, h) >= ENCODER_AGREE_Z      one hit the encoder does not contradict, or
#     z(s, h) >= ENCODER_ALONE_Z                          the encoder alone, far in the tail,
# with z = cosine(segment, theme text) standardised over the corpus's segments for that theme
# (cosine scales differ between encoders; z compares a segment with the rest of its corpus). Themes
# are ranked by hits, then z. Without an encoder one hit suffices. Measured on the sample corpus
# (209 body paragraphs, article labels; offline encoder), against alternatives in README "Themes per
# segment": this rule gives the article's label as best theme for 56 % of paragraphs, topic themes 53 %.
DICT_HITS_ALONE = 2
ENCODER_AGREE_Z = 0.0
ENCODER_ALONE_Z = 2.5
# A topic whose mapped theme fewer than this share of its segments carry is flagged.
TOPIC_AGREEMENT_MIN = 0.5


@dataclass(frozen=True)
class SegmentEvidence:
    """Per segment and theme: anchored term hits and, with an encoder, the standardised cosine."""

    hits: pd.DataFrame  # segments × themes, counts
    z: pd.DataFrame | None  # segments × themes, or None without an encoder


def segment_theme_evidence(
    texts: Sequence[str],
    codebook: Codebook,
    *,
    encoder: Encoder | None = None,
    embeddings: np.ndarray | None = None,
) -> SegmentEvidence:
    """The two kinds of evidence `segment_themes` combines.

    `embeddings` (n, d) are the segments' vectors from `encoder` (the run's embeddings.npy); without
    them the encoder embeds the texts. Each theme is embedded as `Theme.text()` (label, description
    and terms in every language).
    """
    texts = list(texts)
    hits = pd.DataFrame(dictionary_hits(texts, codebook)[0], columns=codebook.keys)
    if encoder is None or not texts:
        return SegmentEvidence(hits=hits, z=None)
    theme_vectors = unit_rows(encoder.encode([theme.text() for theme in codebook.themes]), np.float64)
    vectors = np.asarray(embeddings if embeddings is not None else encoder.encode(texts), dtype=np.float64)
    if vectors.shape != (len(texts), theme_vectors.shape[1]):
        raise ValueError(
            f"segment_theme_evidence: embeddings have shape {vectors.shape}, expected ({len(texts)}, "
            f"{theme_vectors.shape[1]}) from this encoder; pass the run's own embeddings or none"
        )
    cosines = unit_rows(vectors, np.float64) @ theme_vectors.T
    spread = cosines.std(axis=0)
    z = (cosines - cosines.mean(axis=0)) / np.where(spread == 0, 1.0, spread)
    return SegmentEvidence(hits=hits, z=pd.DataFrame(z, columns=codebook.keys))


def segment_themes(evidence: SegmentEvidence) -> pd.DataFrame:
    """Themes per segment by the rule above: `seg_themes` (all, best first), `seg_theme` (the best,
    `other` when none), `seg_theme_score` (the ranking key of the best: its hits + z / 10)."""
    hits = evidence.hits.to_numpy(dtype=float)
    if evidence.z is None:
        z = np.zeros_like(hits)
        carried = hits >= 1
    else:
        z = evidence.z.to_numpy(dtype=float)
        carried = (hits >= DICT_HITS_ALONE) | ((hits >= 1) & (z >= ENCODER_AGREE_Z)) | (z >= ENCODER_ALONE_Z)
    rank = hits + np.clip(z, -5, 5) / 10
    keys = np.asarray(evidence.hits.columns, dtype=object)
    labels, best, best_score = [], [], []
    for row in range(len(hits)):
        order = [k for k in np.argsort(-rank[row], kind="stable") if carried[row, k]]
        labels.append([str(keys[k]) for k in order])
        best.append(str(keys[order[0]]) if order else OTHER)
        best_score.append(round(float(rank[row, order[0]]), 4) if order else 0.0)
    return pd.DataFrame(
        {"seg_themes": labels, "seg_theme": best, "seg_theme_score": best_score}, index=evidence.hits.index
    )


def theme_agreement(segments: pd.DataFrame, keys: Sequence[str]) -> dict[str, pd.DataFrame | float]:
    """How far the topic route (`theme`) and the segment route (`seg_themes`) agree.

    Returns `by_theme` (per theme: segments in topics mapped to it, the share of them carrying it
    as a segment theme, segments carrying it, the share of those whose topic maps to it, and
    Cohen's kappa of the two yes/no labels), `by_topic` (per topic: mapped theme, share of its
    segments carrying it, the segment themes its segments carry most, `flag` when fewer than
    TOPIC_AGREEMENT_MIN carry the mapped theme) and `kappa` (segment level, topic theme vs the best
    segment theme, `other` included).
    """
    from sklearn.metrics import cohen_kappa_score

    frame = segments[segments["topic"] != -1] if "topic" in segments else segments
    carried = frame["seg_themes"].map(lambda v: set(v) if v is not None else set())
    rows = []
    for key in keys:
        topic_says = (frame["theme"] == key).to_numpy()
        segment_says = carried.map(lambda s, key=key: key in s).to_numpy()
        both = int((topic_says & segment_says).sum())
        rows.append(
            {
                "theme": key,
                "n_topic_route": int(topic_says.sum()),
                "share_carried_by_segment": both / topic_says.sum() if topic_says.any() else np.nan,
                "n_segment_route": int(segment_says.sum()),
                "share_in_mapped_topic": both / segment_says.sum() if segment_says.any() else np.nan,
                "kappa": _kappa(topic_says, segment_says),
            }
        )
    topic_rows = []
    for topic, part in frame.groupby("topic"):
        theme = part["theme"].iat[0]
        labels = carried[part.index]
        share = labels.map(lambda s, theme=theme: theme in s).mean() if theme != OTHER else np.nan
        counts = pd.Series([k for s in labels for k in s]).value_counts()
        counts = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))  # ties in name order: reproducible
        top = ", ".join(f"{k} {v / len(part):.0%}" for k, v in counts[:3])
        topic_rows.append(
            {
                "topic": topic,
                "topic_label": part["topic_label"].iat[0] if "topic_label" in part else str(topic),
                "theme": theme,
                "n_segments": len(part),
                "share_carrying_theme": share,
                "segment_themes": top,
                "flag": "most segments do not carry the mapped theme"
                if theme != OTHER and share < TOPIC_AGREEMENT_MIN
                else "",
            }
        )
    kappa = (
        float(cohen_kappa_score(frame["theme"].astype(str), frame["seg_theme"].astype(str)))
        if len(frame) and (frame["theme"].nunique() > 1 or frame["seg_theme"].nunique() > 1) else float("nan")
    )  # fmt: skip
    by_theme = pd.DataFrame(rows)
    by_theme.attrs["note"] = (
        f"topic route = the theme of a segment's topic; segment route = the segment's own themes "
        f"(multi-label); Cohen's kappa at segment level (best segment theme vs topic theme, other "
        f"included) = {kappa:.3f}; outliers left out"
    )
    by_topic = pd.DataFrame(topic_rows)
    by_topic.attrs["note"] = (
        f"flag: a mapped topic whose theme fewer than {TOPIC_AGREEMENT_MIN:.0%} of its segments carry"
    )
    return {"by_theme": by_theme, "by_topic": by_topic, "kappa": kappa}


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two yes/no labellings; NaN when chance agreement is total."""
    n = len(a)
    if n == 0:
        return float("nan")
    observed = float((a == b).mean())
    pa, pb = a.mean(), b.mean()
    expected = pa * pb + (1 - pa) * (1 - pb)
    return float("nan") if expected == 1 else (observed - expected) / (1 - expected)


def add_segment_themes(
    segments: pd.DataFrame, codebook: Codebook, *, encoder: Encoder | None = None, embeddings: np.ndarray | None = None
) -> pd.DataFrame:
    """Segments with `seg_themes`, `seg_theme`, `seg_theme_score` (`segment_themes`), evidence from `embeddings`."""
    evidence = segment_theme_evidence(
        segments["text"].fillna("").astype(str).tolist(), codebook, encoder=encoder, embeddings=embeddings
    )
    labels = segment_themes(evidence)
    segments = segments.drop(columns=[c for c in labels.columns if c in segments.columns])
    return pd.concat([segments.reset_index(drop=True), labels.reset_index(drop=True)], axis=1)
