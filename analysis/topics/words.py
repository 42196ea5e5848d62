"""Topic words per language, their display spellings, and topic labels: the topic table.

Words travel as lists (one list per cell); they are joined into text only when topics.csv is
written (`analysis.topics.store.write_topics_csv`).
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from bertopic import BERTopic
from bertopic.vectorizers import ClassTfidfTransformer
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from analysis.config import TopicConfig
from analysis.text.arabic import ARABIC_SCRIPT_CHAR
from analysis.text.words import token_codes
from analysis.topics.model import DistinctiveWords
from analysis.vectorize import RIVAL_PENALTY, distinctive_top_words, normalise_arabic, tokenize_words

LABEL_MIN_LANGUAGE_SHARE = 0.10  # a language shows in a topic's label from this share on
LABEL_WORDS_PER_LANGUAGE = 3
OUTLIER_LABEL = "outliers"
TOPIC_COLUMNS_START = ["topic", "size", "label", "words"]
TOPIC_COLUMNS_END = ["languages", "theme", "theme_score"]


def words_per_language(
    texts: Sequence[str],
    topics: np.ndarray,
    segment_languages: np.ndarray,
    vectorizer: CountVectorizer,
    *,
    top_n: int = 10,
    reduce_frequent_words: bool = True,
    scoring: str = "ctfidf",
    doc_terms: tuple[sparse.csr_matrix, np.ndarray] | None = None,
    rival_penalty: float = RIVAL_PENALTY,
) -> dict[tuple[int, str], list[str]]:
    """(topic, language) → top words of that topic computed from that language's segments only.

    `scoring` "ctfidf": per-topic word counts from the language's segments, then class TF-IDF
    across topics (so words every topic of that language uses are down-weighted); "distinctive":
    `distinctive_top_words` over the language's segments (rivals: the language's other topics).
    Uses the fitted topic-model vectorizer, hence the same normalisation and stop lists; `doc_terms`
    (counts of `texts`, and their vocabulary) saves transforming the texts again when the caller
    already has them.
    """
    if doc_terms is None:
        doc_terms = (vectorizer.transform(list(texts)).tocsr(), vectorizer.get_feature_names_out())
    counts, vocabulary = doc_terms
    topic_ids = sorted(set(topics.tolist()))
    position = {topic: row for row, topic in enumerate(topic_ids)}
    words: dict[tuple[int, str], list[str]] = {}
    for language in sorted(set(segment_languages.tolist())):
        rows = np.flatnonzero(segment_languages == language)
        if scoring == "distinctive":
            ranked_words = distinctive_top_words(
                counts[rows], topics[rows], vocabulary, top_n, rival_penalty=rival_penalty
            )
            for topic, ranked in ranked_words.items():
                words[(topic, language)] = [word for word, _ in ranked]
            continue
        indicator = sparse.csr_matrix(
            (np.ones(len(rows)), ([position[t] for t in topics[rows]], np.arange(len(rows)))),
            shape=(len(topic_ids), len(rows)),
        )
        per_topic = (indicator @ counts[rows]).tocsr()
        used = np.flatnonzero(np.asarray(per_topic.sum(axis=0)).ravel() > 0)
        if used.size == 0:
            continue
        per_topic = per_topic[:, used]
        weights = (
            ClassTfidfTransformer(reduce_frequent_words=reduce_frequent_words)
            .fit_transform(per_topic)
            .toarray()
        )
        present = per_topic.toarray() > 0
        for topic, row in position.items():
            order = [i for i in np.argsort(-weights[row], kind="stable") if present[row, i]][:top_n]
            if order:
                words[(topic, language)] = [str(vocabulary[used[i]]) for i in order]
    return words


def surface_forms(texts: Sequence[str]) -> dict[str, str]:
    """Normalised Arabic word → its most frequent spelling in `texts`.

    The vectorizer folds ة into ه and أ into ا so that variants count as one word; shown to a
    reader, "الشخصيه" looks misspelt, so labels and word lists show "الشخصية" instead.
    """
    return most_common_forms(spelling_counts(texts))


def spelling_counts(texts: Sequence[str]) -> dict[str, Counter[str]]:
    """Normalised Arabic word → its spellings in `texts` with their counts (first-seen order);
    summed over parts of a corpus in order, they give the whole corpus's `surface_forms`."""
    # Counted per distinct word first (folding each word once, not at every occurrence); the
    # distinct words keep first-seen order, so ties between spellings go the same way as word by word.
    # Folding changes only words with Arabic letters or marks: texts without any are skipped.
    lowered = (unicodedata.normalize("NFKC", text).lower() for text in texts)
    found = token_codes(tokenize_words(text) for text in lowered if ARABIC_SCRIPT_CHAR.search(text))
    occurrences = np.bincount(found.codes, minlength=len(found.distinct))
    spellings: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for word, count in zip(found.distinct.tolist(), occurrences.tolist(), strict=True):
        folded = normalise_arabic(word)
        if folded != word:
            spellings[folded][word] += count
    return dict(spellings)


def most_common_forms(spellings: dict[str, Counter[str]]) -> dict[str, str]:
    return {folded: counts.most_common(1)[0][0] for folded, counts in spellings.items()}


def _display(words: Sequence[str], forms: dict[str, str]) -> list[str]:
    return [" ".join(forms.get(token, token) for token in word.split()) for word in words]


def _label_words(words: Sequence[str], n: int) -> list[str]:
    """The first `n` words that add a token not already shown ("مركز البيانات" after "مركز",
    "البيانات" adds nothing)."""
    chosen: list[str] = []
    shown: set[str] = set()
    for word in words:
        tokens = set(word.split())
        if tokens <= shown:
            continue
        chosen.append(word)
        shown |= tokens
        if len(chosen) == n:
            break
    return chosen


def _language_shares(languages: np.ndarray) -> list[tuple[str, float]]:
    values, counts = np.unique(languages, return_counts=True)
    shares = sorted(
        zip(values.tolist(), (counts / counts.sum()).tolist(), strict=True), key=lambda p: (-p[1], p[0])
    )
    return [(str(language), float(share)) for language, share in shares]


def topic_table(
    model: BERTopic,
    texts: list[str],
    topics: np.ndarray,
    segment_languages: np.ndarray,
    languages: Sequence[str],
    config: TopicConfig,
) -> pd.DataFrame:
    """One row per topic: size, label, its words (a list), its words per language (lists, empty
    where the topic has no segment in that language) and its language shares."""
    per_language = words_per_language(
        texts,
        topics,
        segment_languages,
        model.vectorizer_model,
        top_n=config.top_n_words,
        reduce_frequent_words=config.reduce_frequent_words,
        scoring="distinctive" if config.representation == "distinctive" else "ctfidf",
        rival_penalty=config.rival_penalty,
        doc_terms=(
            model.representation_model.doc_terms(model.vectorizer_model, texts)
            if isinstance(model.representation_model, DistinctiveWords)
            else None
        ),
    )
    forms = surface_forms(texts)
    per_language = {key: _display(words, forms) for key, words in per_language.items()}
    rows = []
    for topic in sorted(set(topics.tolist())):
        mask = topics == topic
        shares = _language_shares(segment_languages[mask])
        model_words = _display([word for word, _ in (model.get_topic(topic) or []) if word], forms)
        row: dict[str, Any] = {
            "topic": topic,
            "size": int(mask.sum()),
            "label": _label(topic, shares, per_language, model_words),
            "words": model_words,
        }
        for language in languages:
            row[f"words_{language}"] = list(per_language.get((topic, language), []))
        row["languages"] = " · ".join(f"{language} {share:.0%}" for language, share in shares)
        rows.append(row)
    columns = [*TOPIC_COLUMNS_START, *(f"words_{lang}" for lang in languages), "languages"]
    return pd.DataFrame(rows, columns=columns)


def _label(
    topic: int,
    shares: list[tuple[str, float]],
    per_language: dict[tuple[int, str], list[str]],
    model_words: list[str],
) -> str:
    """ "3 · ar: سيادة, رقمية · fr: souveraineté, données": top words of each language holding at
    least LABEL_MIN_LANGUAGE_SHARE of the topic's segments, largest language first."""
    if topic == -1:
        return OUTLIER_LABEL
    parts = [
        f"{language}: {', '.join(_label_words(per_language[(topic, language)], LABEL_WORDS_PER_LANGUAGE))}"
        for language, share in shares
        if share >= LABEL_MIN_LANGUAGE_SHARE and (topic, language) in per_language
    ]
    if not parts:
        parts = [", ".join(_label_words(model_words, LABEL_WORDS_PER_LANGUAGE)) or "(no words)"]
    return " · ".join([str(topic), *parts])

