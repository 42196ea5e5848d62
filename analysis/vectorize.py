"""Topic words in Arabic, Darija, French and English: normalisation, stop lists, a CountVectorizer,
and the distinctive-word score that picks each topic's words.

BERTopic names topics with c-TF-IDF over the words its vectorizer produces. Its default vectorizer
splits "l'intelligence" into "intelligence" only by luck, treats "الذكاء" and "ألذكاء" as different
words and keeps "في", "de" and "the" among the top words. The vectorizer built here normalises the
three scripts' variants first and removes stop words — only here: the text that is embedded keeps
every word.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import stopwordsiso
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from analysis.config import TopicConfig
from analysis.text import normalise_arabic, normalise_for_words, read_word_list, tokenize_words

# Word normalisation lives in the first stage (text.py), which every later stage shares; it is
# re-exported here because it is what the vectorizer does to text.
from analysis.text.arabic import ARABIC_LETTER
from analysis.text.words import token_codes

__all__ = [
    "DISTINCTIVE_SMOOTHING",
    "RIVAL_PENALTY",
    "STOPWORD_LANGUAGES",
    "TopicWordVectorizer",
    "darija_stop_words",
    "distinctive_scores_from_counts",
    "distinctive_top_words",
    "distinctive_word_scores",
    "make_vectorizer",
    "normalise_arabic",
    "normalise_for_words",
    "penalise_rivals",
    "scaled_min_df",
    "stop_word_exceptions",
    "stop_words",
    "tokenize_words",
    "top_scored",
    "words_in",
]

# News boilerplate that tops every topic's word list without saying anything about it.
_NEWS_BOILERPLATE = {
    "en": ("said", "says", "told", "according", "also", "year", "new"),
    "fr": ("selon", "déclaré", "indique", "ajouté", "lire", "aussi", "cette", "année"),
    "ar": ("قال", "وقال", "اضاف", "واضاف", "اكد", "واكد", "حسب", "وفق", "وفقا", "خلال", "ايضا", "اطار"),
}
STOPWORD_LANGUAGES = ("ar", "fr", "en")
# Added to the out-of-topic document share: a word no other document uses is "1,000 times" more
# likely in the topic at most, so very rare words cannot outrank words most of the topic shares.
DISTINCTIVE_SMOOTHING = 1e-3
# A word's score in a topic loses this share of its best score in any other topic (`penalise_rivals`;
# its one definition is TopicConfig's default, where the reasons are).
RIVAL_PENALTY = TopicConfig.rival_penalty
_STARVED_SCALE = 1e-9  # a penalised-out word's score, as a share of its own: far below the others


@functools.cache
def stop_words(*, stem: bool = False) -> frozenset[str]:
    """Stop words of ar, fr, en (stopwords-iso, less the packaged exceptions), Darija function words
    and news boilerplate.

    Every entry goes through the same normalisation as the text, so that "إلى" and "الى", or
    "aujourd'hui", match what the tokenizer produces. An exception (`stop_word_exceptions`) keeps
    the word whichever language listed it, since one vectorizer serves every language: French
    "ai" (j'ai) is kept with English "AI".
    """

    def normalised(words: Iterable[str]) -> set[str]:
        return {token for word in words for token in tokenize_words(normalise_for_words(word, stem=stem))}

    kept = normalised(word for words in stop_word_exceptions().values() for word in words)
    listed = normalised(stopwordsiso.stopwords(list(STOPWORD_LANGUAGES))) - kept
    boilerplate = [word for words in _NEWS_BOILERPLATE.values() for word in words]
    words = listed | normalised(darija_stop_words()) | normalised(boilerplate)
    # Arabic writes "and"/"so" joined to the next word: ولكن is و + لكن, وهادشي is و + هادشي.
    joined = {conj + word for word in words if ARABIC_LETTER.match(word) for conj in ("و", "ف")}
    return frozenset(words | (joined - kept))


@functools.cache
def stop_word_exceptions() -> dict[str, tuple[str, ...]]:
    """Language → words stopwords-iso lists but topic words keep ("ai", "act", "état", "زيارة"),
    from the packaged `data/stopword_exceptions.txt` (`[lang]` sections, one word per line)."""
    return {language: words for language, words in read_word_list("stopword_exceptions.txt").items() if language}


@functools.cache
def darija_stop_words() -> tuple[str, ...]:
    """Moroccan Darija function words from the packaged list (one per line, `#` comments)."""
    return read_word_list("stopwords_darija.txt").get("", ())


def scaled_min_df(n_documents: int) -> int:
    """Minimum document frequency for a vocabulary fitted on `n_documents` documents.

    1 below 200 documents (every word counts in a small corpus), 2 below 2,000, then 0.1 % of the
    documents capped at 20, so that a 100,000-segment vocabulary does not fill memory with typos.
    """
    if n_documents < 0:
        raise ValueError(f"n_documents must be >= 0, got {n_documents}")
    if n_documents < 200:
        return 1
    if n_documents < 2000:
        return 2
    return min(20, max(2, round(0.001 * n_documents)))


class TopicWordVectorizer(CountVectorizer):
    """A CountVectorizer whose features and counts are scikit-learn's, counted with array operations.

    scikit-learn counts each feature of each document in a Python dict and then sorts the vocabulary
    as (word, index) pairs, twice more for `get_feature_names_out`. Fitted on morocco-news's 27,926
    segments with bigrams (min_df 1: about 1.2 million terms), counting and sorting took longer than
    the analyzer itself. Here the analyzer is the one `build_analyzer` returns, each block of documents'
    features is hashed at once (`pandas.factorize`), the vocabulary is sorted once by pyarrow (UTF-8
    byte order is code-point order, Python's string order) and numbered in that order, and the feature
    names are kept until the vocabulary changes. Same vocabulary, same matrix (tests/test_vectorize.py).
    """

    BLOCK = 10_000  # documents whose features are held as Python strings at once

    def _count_vocab(self, raw_documents: Iterable[Any], fixed_vocab: bool) -> tuple[dict[str, int], Any]:
        analyze = self.build_analyzer()
        found = token_codes((analyze(document) for document in raw_documents), block=self.BLOCK)
        rows, columns = found.rows, found.codes
        if fixed_vocab:  # transform: features outside the fitted vocabulary are dropped
            vocabulary = self.vocabulary_
            columns = self._terms(vocabulary).get_indexer(found.distinct)[columns]
            rows, columns = rows[columns >= 0], columns[columns >= 0]
        else:  # fit: the vocabulary numbered in sorted order
            if not len(found.distinct):
                raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
            order = pc.sort_indices(pa.array(found.distinct, type=pa.large_string())).to_numpy()
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
            terms, columns = found.distinct[order], rank[columns]
            vocabulary = dict(zip(terms.tolist(), range(len(terms)), strict=True))
            self._terms(vocabulary, terms)
        counts = sparse.csr_matrix(
            (np.ones(len(columns), dtype=self.dtype), (rows, columns)),
            shape=(found.n_texts, len(vocabulary)),
            dtype=self.dtype,
        )
        counts.sum_duplicates()
        counts.sort_indices()
        return vocabulary, counts

    def _word_ngrams(self, tokens: list[str], stop_words: Any = None) -> list[str]:
        if self.ngram_range != (1, 2):
            return super()._word_ngrams(tokens, stop_words)
        # scikit-learn's features in its order (words, then bigrams), by one comprehension, not a loop
        if stop_words is not None:
            tokens = [token for token in tokens if token not in stop_words]
        return tokens + [f"{first} {second}" for first, second in itertools.pairwise(tokens)]

    def _sort_features(self, X: Any, vocabulary: dict[str, int]) -> Any:
        return X  # `_count_vocab` numbers the vocabulary in sorted order already

    def _limit_features(self, X: Any, vocabulary: dict[str, int], high: Any = None, low: Any = None,
                        limit: Any = None) -> Any:  # fmt: skip
        if limit is not None or high is None or low is None:
            return super()._limit_features(X, vocabulary, high, low, limit)
        frequencies = np.bincount(X.indices, minlength=X.shape[1])
        mask = (frequencies <= high) & (frequencies >= low)
        if mask.all():
            return X
        kept = np.flatnonzero(mask)
        if not len(kept):
            raise ValueError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
        terms = self._terms(vocabulary).to_numpy(dtype=object)[kept]  # by index, which is sorted order
        vocabulary.clear()
        vocabulary.update(zip(terms.tolist(), range(len(terms)), strict=True))
        self._terms(vocabulary, terms)
        return X[:, kept]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        self._check_vocabulary()
        return self._terms(self.vocabulary_).to_numpy(dtype=object, copy=True)

    def _terms(self, vocabulary: dict[str, int], terms: np.ndarray | None = None) -> pd.Index:
        """The terms of `vocabulary` by index (an Index: `transform` looks features up in its hash
        table), kept while the same dict holds as many terms; `terms`: they are known already."""
        cached = self.__dict__.get("_vocabulary_terms")
        if terms is None and cached is not None and cached[0] is vocabulary and len(cached[1]) == len(vocabulary):
            return cached[1]
        if terms is None:
            terms = np.empty(len(vocabulary), dtype=object)
            terms[np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))] = list(vocabulary)
        index = pd.Index(terms, dtype=object)
        self.__dict__["_vocabulary_terms"] = (vocabulary, index)
        return index


def make_vectorizer(
    n_documents: int,
    *,
    ngram_range: tuple[int, int] = (1, 2),
    min_df: int | float | None = None,
    stem: bool = False,
) -> CountVectorizer:
    """A CountVectorizer for topic words in ar/fr/en/Darija, unfitted.

    `n_documents` is the number of documents the vectorizer will be fitted on and only sets the
    default `min_df` (see `scaled_min_df`). Note that BERTopic fits its vectorizer on one joined
    document per topic, so there `min_df` counts topics: pass the number of topics, not of segments,
    unless words must recur across topics. Bigrams are formed after stop words are removed, as
    scikit-learn does ("ministère de la santé" gives "ministère santé").
    """
    return TopicWordVectorizer(
        preprocessor=functools.partial(normalise_for_words, stem=stem),
        tokenizer=tokenize_words,
        token_pattern=None,
        lowercase=False,
        stop_words=sorted(stop_words(stem=stem)),
        ngram_range=ngram_range,
        min_df=scaled_min_df(n_documents) if min_df is None else min_df,
    )


def words_in(texts: Iterable[str], *, stem: bool = False) -> list[list[str]]:
    """Tokens of each text after normalisation and stop-word removal (for coherence metrics)."""
    stops = stop_words(stem=stem)
    return [
        [token for token in tokenize_words(normalise_for_words(text, stem=stem)) if token not in stops]
        for text in texts
    ]


def distinctive_word_scores(
    doc_terms: sparse.spmatrix, topics: np.ndarray, *, smoothing: float = DISTINCTIVE_SMOOTHING
) -> tuple[list[int], sparse.csr_matrix]:
    """How characteristic each word is of each topic, counted in documents rather than occurrences.

    score(w, t) = p_in · log(p_in / (p_out + smoothing)), where p_in is the share of topic t's
    documents that contain w and p_out the share of all other documents that do (the word's
    contribution to the KL divergence between the two). c-TF-IDF counts occurrences in one joined
    document per topic, so a word that a few long documents repeat can lead a topic that most of
    its documents never mention; counting documents, and comparing with the rest of the corpus,
    favours words that most of the topic uses and the rest of the corpus does not. On the BERTopic
    paper's BBC and 20 Newsgroups protocol this raised NPMI and diversity over c-TF-IDF
    (benchmarks/results/paper_protocol.md).

    `doc_terms` is a documents × words count (or 0/1) matrix, `topics` each document's topic.
    Returns the sorted topic ids and a topics × words matrix, in that order; a word absent from
    a topic scores 0 there (the matrix stays sparse).
    """
    topics = np.asarray(topics)
    if doc_terms.shape[0] != len(topics):
        raise ValueError(f"{doc_terms.shape[0]} document rows but {len(topics)} topic assignments")
    presence = sparse.csr_matrix(doc_terms, dtype=np.float64, copy=True)
    presence.eliminate_zeros()
    presence.data[:] = 1.0
    topic_ids = sorted({int(t) for t in topics.tolist()})
    row_of = {topic: row for row, topic in enumerate(topic_ids)}
    indicator = sparse.csr_matrix(
        (np.ones(len(topics)), ([row_of[int(t)] for t in topics], np.arange(len(topics)))),
        shape=(len(topic_ids), len(topics)),
    )
    sizes = np.asarray(indicator.sum(axis=1)).ravel()
    return topic_ids, distinctive_scores_from_counts(indicator @ presence, sizes, smoothing=smoothing)


def distinctive_scores_from_counts(
    in_topic: sparse.spmatrix, sizes: np.ndarray, *, smoothing: float = DISTINCTIVE_SMOOTHING
) -> sparse.csr_matrix:
    """`distinctive_word_scores` from its sums: the documents holding each word per topic (`in_topic`,
    topics × words) and the topic sizes; sums over partitions of a corpus give the same scores."""
    in_topic = sparse.coo_matrix(in_topic)
    documents_with_word = np.asarray(in_topic.sum(axis=0)).ravel()
    p_in = in_topic.data / sizes[in_topic.row]
    others = np.maximum(sizes.sum() - sizes[in_topic.row], 1)
    p_out = (documents_with_word[in_topic.col] - in_topic.data) / others
    scores = p_in * np.log(p_in / (p_out + smoothing))
    return sparse.csr_matrix((scores, (in_topic.row, in_topic.col)), shape=in_topic.shape)


def top_scored(row: sparse.csr_matrix, vocabulary: np.ndarray, n: int) -> list[tuple[str, float]]:
    """The `n` best words of one row of scores, best first; only positive scores, ties by word."""
    row = sparse.csr_matrix(row)
    keep = row.data > 0
    indices, values = row.indices[keep], row.data[keep]
    if 0 < n < len(values):  # only words scoring at least the n-th best can be among the n (ties kept)
        near = values >= np.partition(values, len(values) - n)[len(values) - n]
        indices, values = indices[near], values[near]
    order = np.lexsort((vocabulary[indices], -values))[:n]
    return [(str(vocabulary[indices[i]]), float(values[i])) for i in order]


def penalise_rivals(
    scores: sparse.spmatrix, rivals: np.ndarray, penalty: float = RIVAL_PENALTY
) -> sparse.csr_matrix:
    """`scores` (topics × words) minus `penalty` × each word's best positive score in another rival row.

    Distinctive scores compare a topic with the whole rest of the corpus, so two neighbouring topics
    (two football topics, two Moroccan-AI-deal topics) are both led by the words they share, and the
    topic list repeats itself. Taking a share of the word's best score elsewhere keeps it first where it
    is strongest and moves it down in the others. Rows outside `rivals` (a bool per row: the outlier
    topic) are penalised but never count as another topic's rival. A word the penalty would push to
    zero or below keeps a tiny positive score, so short topics keep their words (BERTopic would pad
    them with empty ones). `penalty` 0: the scores as they are.
    """
    scores = sparse.csr_matrix(scores, dtype=np.float64)
    if penalty == 0 or scores.nnz == 0:
        return scores
    coo = scores.tocoo()
    rival = np.asarray(rivals, dtype=bool)[coo.row] & (coo.data > 0)
    n_words = scores.shape[1]
    best = np.zeros(n_words)
    np.maximum.at(best, coo.col[rival], coo.data[rival])
    at_best = rival & (coo.data == best[coo.col])
    holders = np.bincount(coo.col[at_best], minlength=n_words)  # rival rows reaching the best score
    second = np.zeros(n_words)
    below = rival & ~at_best
    np.maximum.at(second, coo.col[below], coo.data[below])
    # a row's best rival elsewhere: the word's best score, unless this row alone holds it
    other = np.where(at_best & (holders[coo.col] == 1), second[coo.col], best[coo.col])
    other = np.where(at_best & (holders[coo.col] > 1), best[coo.col], other)
    data = coo.data - penalty * other
    # the penalty reorders a topic's words, it never takes one away: a word the topic itself scores
    # above zero stays above zero, after every word the penalty leaves ahead of it, in its own order
    starved = (coo.data > 0) & (data <= 0)
    data[starved] = coo.data[starved] * _STARVED_SCALE
    return sparse.csr_matrix((data, (coo.row, coo.col)), shape=scores.shape)


def distinctive_top_words(
    doc_terms: sparse.spmatrix,
    topics: np.ndarray,
    vocabulary: np.ndarray,
    n: int,
    *,
    rival_penalty: float = RIVAL_PENALTY,
) -> dict[int, list[tuple[str, float]]]:
    """Each topic's `n` best words by `distinctive_word_scores` after `penalise_rivals` (the outlier
    topic -1 is no rival), best first; a topic without a positive-scoring word is left out."""
    topic_ids, scores = distinctive_word_scores(doc_terms, topics)
    scores = penalise_rivals(scores, np.asarray(topic_ids) != -1, rival_penalty)
    ranked = {topic: top_scored(scores.getrow(row), vocabulary, n) for row, topic in enumerate(topic_ids)}
    return {topic: words for topic, words in ranked.items() if words}
