"""Topic-model evaluation: coherence, diversity, stability, external validity, cross-lingual matches.

The metrics are the ones a paper reviewer expects, computed the way the literature computes them
so the numbers compare with published ones:

- NPMI coherence is gensim's `c_npmi` (what OCTIS, and so the BERTopic paper, call): boolean
  sliding windows of 10 tokens, NPMI with epsilon 1e-12, mean over word pairs, mean over topics.
- Topic diversity is OCTIS's: distinct words among the top-10 words of all topics over their count.
- Stability is the adjusted Rand index and normalised mutual information between runs that differ
  only in their random seed; external validity is the same against reference labels.
- Cross-lingual matches is CTM's "Matches": the share of same-story document pairs in different
  languages whose (majority) topics are the same.

`evaluate_topics` computes the numbers as one dict; `evaluate_run` reads a run folder
(`segments.parquet`, `topics.csv`) unless given its tables, and writes that dict to
`evaluation.json` once, as valid JSON (NaN as null). NPMI's window counts add up over segments, so
they are made a block of segments at a time (`count_in_blocks`; on a cluster's workers with
`analysis.compute.coherence`) and never need every segment's tokens at once.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from analysis.topics.files import as_word_list, read_topics_csv

UnknownWords = Literal["drop", "error", "first_word"]
Analyzer = Callable[[str], list[str]]
TextBlocks = Iterable[tuple[list[str], "np.ndarray | None"]]
# sums the window counts of blocks of (texts, languages): `count_in_blocks` here, or on a cluster's workers
BlockCounter = Callable[[TextBlocks, dict[str | None, list[str]], Analyzer], dict[str | None, "WindowCounts"]]

OUTLIER = -1


class EvaluationError(ValueError):
    """Input that cannot be evaluated; the message names the file or field and what to do."""


# --------------------------------------------------------------------------------------------
# Coherence and diversity


@dataclass(frozen=True)
class CorpusVocabulary:
    """The corpus's distinct tokens, numbered in first-seen order: what NPMI needs of gensim's
    `Dictionary` (its `token2id`), without its bag-of-words pass over every document (30 s on
    morocco-news under load, for a membership test)."""

    token2id: dict[str, int]


def corpus_dictionary(tokenized_docs: Sequence[Sequence[str]]) -> CorpusVocabulary:
    """The corpus's vocabulary (`token2id`, as gensim's `Dictionary` has it); build it once when
    scoring many topic sets on one corpus. A gensim `Dictionary` may be passed wherever it is taken."""
    distinct = dict.fromkeys(itertools.chain.from_iterable(tokenized_docs))
    return CorpusVocabulary({token: number for number, token in enumerate(distinct)})


def npmi_coherence(
    topic_words: Sequence[Sequence[str]],
    tokenized_docs: Sequence[Sequence[str]],
    *,
    top_n: int = 10,
    window_size: int = 10,
    unknown: UnknownWords = "drop",
    dictionary: Any = None,
) -> tuple[float, list[float]]:
    """Mean and per-topic NPMI (gensim `c_npmi`, as OCTIS computes it) over the corpus's own tokens.

    gensim refuses words its dictionary lacks (a topic bigram, a word the tokenizer split
    differently). OCTIS passes topics straight through and so fails on them; the BERTopic paper's
    scripts replaced each such word by the corpus's first token. `unknown` chooses: "drop" them
    (default; a topic left with fewer than 2 words scores NaN and is left out of the mean),
    "first_word" (the paper's replacement, for reproducing its numbers) or "error".
    """
    if not topic_words:
        raise EvaluationError("no topics to score: topic_words is empty")
    if not any(tokenized_docs):
        raise EvaluationError("no tokens to count co-occurrences in: every document is empty")
    if dictionary is None:
        dictionary = corpus_dictionary(tokenized_docs)
    first_word = next(token for doc in tokenized_docs for token in doc)
    prepared = _known_words(
        topic_words, dictionary.token2id, top_n=top_n, unknown=unknown, first_word=first_word
    )
    counts = window_counts(tokenized_docs, _scorable_words(prepared), window_size)
    return npmi_from_counts(prepared, counts)


def _known_words(
    topic_words: Sequence[Sequence[str]], known: Container[str], *, top_n: int, unknown: UnknownWords = "drop",
    first_word: str | None = None,
) -> list[list[str]]:  # fmt: skip
    """Each topic's first `top_n` words with those the corpus lacks dropped, replaced or refused."""
    prepared: list[list[str]] = []
    for index, words in enumerate(topic_words):
        kept = []
        for word in list(words)[:top_n]:
            if word in known:
                kept.append(word)
            elif unknown == "error":
                raise EvaluationError(
                    f"topic {index}: word {word!r} never occurs in the corpus tokens; "
                    "tokenise the corpus as the topic words were, or pass unknown='drop'"
                )
            elif unknown == "first_word":
                kept.append(first_word)
        prepared.append(kept)
    return prepared


def _scorable_words(topics: Sequence[Sequence[str]]) -> list[str]:
    """The distinct words of the topics that NPMI can score (at least 2 different words)."""
    return list(dict.fromkeys(w for words in topics if len(set(words)) >= 2 for w in words))


def npmi_from_counts(topics: Sequence[Sequence[str]], counts: WindowCounts) -> tuple[float, list[float]]:
    """Mean and per-topic NPMI from window counts holding every word of the scorable topics; a topic
    with fewer than 2 different words scores NaN and is left out of the mean."""
    per_topic = [math.nan] * len(topics)
    num_docs = float(counts.n_windows)
    together = counts.together
    for index, topic in enumerate(topics):
        if len(set(topic)) < 2:
            continue
        ids = [counts.columns[word] for word in topic]
        sims = []
        for i, w_prime in enumerate(ids):
            for j, w_star in enumerate(ids):
                if i == j:
                    continue
                co_occur = together[w_prime, w_star]
                ratio = np.log(
                    ((co_occur / num_docs) + NPMI_EPSILON)
                    / ((together[w_prime, w_prime] / num_docs) * (together[w_star, w_star] / num_docs))
                )
                sims.append(ratio / (-np.log(co_occur / num_docs + NPMI_EPSILON)))
        per_topic[index] = float(np.mean(sims))
    scored = [s for s in per_topic if not math.isnan(s)]
    return (float(np.mean(scored)) if scored else math.nan), per_topic


NPMI_EPSILON = 1e-12  # gensim's direct_confirmation_measure.EPSILON


@dataclass(frozen=True)
class WindowCounts:
    """Boolean sliding-window counts of some words over some documents: all NPMI needs of a corpus.

    They add up over documents, so a corpus too large to hold tokenised is counted a block at a time
    (`coherence_counts`) and the blocks' counts summed, giving the same integers as one pass.
    `together[i, j]`: windows holding words i and j; the diagonal: windows holding word i (> 0 exactly
    when the word occurs: every occurrence lies in a window). `n_tokens` counts every token.
    """

    columns: dict[str, int]
    together: np.ndarray  # (words × words) int64
    n_windows: int
    n_tokens: int

    def __add__(self, other: WindowCounts) -> WindowCounts:
        if other.columns != self.columns:
            raise ValueError("window counts of different word lists cannot be added")
        return WindowCounts(self.columns, self.together + other.together, self.n_windows + other.n_windows,
                            self.n_tokens + other.n_tokens)  # fmt: skip

    def occurs(self, word: str) -> bool:
        column = self.columns.get(word)
        return column is not None and bool(self.together[column, column] > 0)


def window_counts(
    tokenized_docs: Sequence[Sequence[str]], words: Iterable[str], window_size: int
) -> WindowCounts:
    """Window counts of `words` exactly as gensim's `CoherenceModel(coherence="c_npmi", processes=1)`
    makes them, with array operations instead of gensim's Python loop over every window (30 s of the
    evaluation on morocco-news; the numbers are the same: tests/test_evaluate.py).

    gensim's windows: a document of L >= w tokens gives L - w + 1 windows, a shorter (or empty) one
    gives one; every window counts in the total. Its window holds a set of words that it updates as
    it slides, removing the word that leaves and adding the word that enters, in that order; a word
    that leaves while another occurrence of it stays inside is removed all the same. Replayed here per
    word and document: an occurrence at position p is added at window max(0, p - w + 1) and removed
    at window p + 1, and the word is present from each addition until the next event of that word.
    """
    columns = {word: column for column, word in enumerate(dict.fromkeys(words))}
    lengths = np.fromiter((len(doc) for doc in tokenized_docs), dtype=np.int64, count=len(tokenized_docs))
    n_windows = np.where(lengths >= window_size, lengths - window_size + 1, 1)
    window_start = np.concatenate([[0], np.cumsum(n_windows)]).astype(np.int64)
    found = [(row, position, columns[token]) for row, doc in enumerate(tokenized_docs)
             for position, token in enumerate(doc) if token in columns]  # fmt: skip
    rows, positions, word_ids = np.asarray(found, dtype=np.int64).reshape(-1, 3).T
    # events: (document, word, window, kind) with kind 0 = removal before 1 = addition at one window
    times = np.concatenate([np.maximum(positions - window_size + 1, 0), positions + 1])
    kinds = np.concatenate(
        [np.ones(len(positions), dtype=np.int64), np.zeros(len(positions), dtype=np.int64)]
    )
    event_rows, event_words = np.tile(rows, 2), np.tile(word_ids, 2)
    order = np.lexsort((kinds, times, event_words, event_rows))
    times, kinds, event_rows, event_words = times[order], kinds[order], event_rows[order], event_words[order]
    # an addition is followed by an event of the same word and document: its occurrence's removal at the latest
    additions = np.flatnonzero(kinds == 1)
    first = times[additions]
    last = np.minimum(times[additions + 1], n_windows[event_rows[additions]]) - 1
    spans = np.maximum(last - first + 1, 0)
    windows = np.repeat(window_start[event_rows[additions]] + first - np.cumsum(spans) + spans, spans)
    windows += np.arange(len(windows))
    present = sparse.csr_matrix(
        (np.ones(len(windows), dtype=np.int64), (windows, np.repeat(event_words[additions], spans))),
        shape=(int(window_start[-1]), len(columns)),
    )
    together = np.asarray((present.T @ present).toarray(), dtype=np.int64)
    return WindowCounts(columns, together, int(window_start[-1]), int(lengths.sum()))


def topic_diversity(topic_words: Sequence[Sequence[str]], top_n: int = 10) -> float:
    """Share of distinct words among the top-`top_n` words of all topics (OCTIS TopicDiversity).

    OCTIS divides by n_topics × top_n; here by the number of words actually listed, which is the
    same when every topic has `top_n` words and does not count missing words as repeats otherwise.
    """
    tops = [list(words)[:top_n] for words in topic_words]
    total = sum(len(words) for words in tops)
    if total == 0:
        raise EvaluationError("no topic words to measure diversity on")
    return len({word for words in tops for word in words}) / total


# --------------------------------------------------------------------------------------------
# Agreement between partitions


def stability(assignments_a: Sequence[int], assignments_b: Sequence[int]) -> dict[str, float]:
    """ARI and NMI between two topic assignments of the same segments (label names do not matter)."""
    a, b = np.asarray(assignments_a), np.asarray(assignments_b)
    if a.shape != b.shape:
        raise EvaluationError(
            f"assignments differ in length ({a.size} vs {b.size}); they must cover the same segments"
        )
    return {"ari": float(adjusted_rand_score(a, b)), "nmi": float(normalized_mutual_info_score(a, b))}


def seed_stability(fit_fn: Callable[[int], Sequence[int]], seeds: Iterable[int]) -> pd.DataFrame:
    """Fit once per seed and compare every pair of runs: columns seed_a, seed_b, ari, nmi."""
    runs = {seed: np.asarray(fit_fn(seed)) for seed in seeds}
    if len(runs) < 2:
        raise EvaluationError("seed stability needs at least two different seeds")
    rows = [
        {"seed_a": a, "seed_b": b, **stability(runs[a], runs[b])} for a, b in itertools.combinations(runs, 2)
    ]
    return pd.DataFrame(rows, columns=["seed_a", "seed_b", "ari", "nmi"])


def outlier_share(topics: Sequence[int]) -> float:
    """Share of segments HDBSCAN left as outliers (topic -1)."""
    values = np.asarray(topics)
    if values.size == 0:
        raise EvaluationError("no topic assignments given")
    return float(np.mean(values == OUTLIER))


def external_validity(topics: Sequence[int], labels: Sequence[Any]) -> dict[str, float]:
    """NMI and ARI of topics against reference labels, outliers as one cluster and excluded.

    Counting outliers as a cluster charges the model for what it left unassigned; excluding them
    shows how well the assigned part agrees. Both are reported because either alone misleads.
    """
    topic_values = np.asarray(topics)
    label_values = pd.Series(list(labels), dtype="object")
    if topic_values.size != len(label_values):
        raise EvaluationError(f"{topic_values.size} topics but {len(label_values)} labels; they must align")
    has_label = label_values.notna().to_numpy() & (label_values.astype(str).str.strip() != "").to_numpy()
    if not has_label.any():
        raise EvaluationError("the label column is empty: no reference labels to compare with")
    topic_values, label_values = topic_values[has_label], label_values[has_label].astype(str).to_numpy()
    assigned = topic_values != OUTLIER
    result = {"n": int(has_label.sum()), **stability(topic_values, label_values)}
    result["n_without_outliers"] = int(assigned.sum())
    if assigned.sum() >= 2:
        without = stability(topic_values[assigned], label_values[assigned])
        result["nmi_without_outliers"], result["ari_without_outliers"] = without["nmi"], without["ari"]
    else:
        result["nmi_without_outliers"] = result["ari_without_outliers"] = math.nan
    return result


# --------------------------------------------------------------------------------------------
# Cross-lingual consistency


def document_topics(segments: pd.DataFrame, *, doc_column: str = "doc_id") -> pd.Series:
    """Each document's majority topic over its non-outlier segments (-1 when all are outliers).

    Ties go to the topic of the earliest segment among the tied ones, so the result is stable.
    """
    _require_columns(segments, [doc_column, "topic"], where="segments")

    def majority(topics: pd.Series) -> int:
        assigned = [int(t) for t in topics if int(t) != OUTLIER]
        if not assigned:
            return OUTLIER
        counts = Counter(assigned)
        best = max(counts.values())
        return next(t for t in assigned if counts[t] == best)

    return segments.groupby(doc_column, sort=False)["topic"].agg(majority)


def cross_lingual_matches(
    segments_with_topics: pd.DataFrame,
    pairs_or_story_column: str | pd.DataFrame | Sequence[tuple[str, str]] = "story",
    *,
    doc_column: str = "doc_id",
    language_column: str = "doc_language",
) -> dict[str, Any]:
    """Share of same-story document pairs in different languages whose majority topics agree.

    `pairs_or_story_column` is either the name of a column holding a story key (every pair of
    documents with the same key and different languages is used) or explicit (doc_a, doc_b) pairs.
    A pair where either document is an outlier counts as a miss: outliers share no topic.
    """
    _require_columns(segments_with_topics, [doc_column, language_column, "topic"], where="segments")
    doc_topic = document_topics(segments_with_topics, doc_column=doc_column)
    doc_language = segments_with_topics.groupby(doc_column, sort=False)[language_column].first()

    if isinstance(pairs_or_story_column, str):
        column = pairs_or_story_column
        _require_columns(segments_with_topics, [column], where="segments")
        stories = segments_with_topics.groupby(doc_column, sort=False)[column].first()
        stories = stories[stories.notna() & (stories.astype(str).str.strip() != "")]
        pairs = [
            (a, b)
            for _, docs in stories.groupby(stories)
            for a, b in itertools.combinations(docs.index, 2)
            if doc_language[a] != doc_language[b]
        ]
    else:
        given = (
            pairs_or_story_column.iloc[:, :2].itertuples(index=False, name=None)
            if isinstance(pairs_or_story_column, pd.DataFrame)
            else pairs_or_story_column
        )
        pairs = []
        for a, b in given:
            missing = [d for d in (a, b) if d not in doc_topic.index]
            if missing:
                raise EvaluationError(
                    f"pair ({a!r}, {b!r}): document(s) {missing} not in the segment table's {doc_column}"
                )
            pairs.append((a, b))

    matched = sum(1 for a, b in pairs if doc_topic[a] != OUTLIER and doc_topic[a] == doc_topic[b])
    with_outlier = sum(1 for a, b in pairs if OUTLIER in (doc_topic[a], doc_topic[b]))
    return {
        "pairs": len(pairs),
        "matched": matched,
        "matches": matched / len(pairs) if pairs else math.nan,
        "pairs_with_outlier": with_outlier,
    }


# --------------------------------------------------------------------------------------------
# Run folders


def evaluate_run(
    run_dir: str | Path,
    *,
    segments: pd.DataFrame | None = None,
    topics: pd.DataFrame | None = None,
    label_column: str | None = None,
    seeds: int = 0,
    analyzer: Analyzer | None = None,
    story_column: str = "story",
    top_n: int = 10,
    block_counter: BlockCounter | None = None,
) -> dict[str, Any]:
    """Evaluate a run folder's topics, write `evaluation.json` once, and return what it holds.

    `segments` and `topics` are the run's tables when the caller has them in memory (the pipeline);
    otherwise they are read from `segments.parquet` and `topics.csv`. The returned dict is the
    file's content: JSON-ready, undefined metrics as None (null), so a manifest can store it as is.
    `seeds` > 0 refits the topic model that many times with other seeds on the run's embeddings.
    `block_counter` counts NPMI's windows elsewhere (`analysis.compute.coherence` on a cluster).
    """
    run_dir = Path(run_dir)
    where = str(run_dir / "segments.parquet")
    segments = _read_segments(run_dir) if segments is None else segments
    _require_columns(segments, ["doc_id", "text", "topic"], where=where)
    topic_table = _topic_ids(_read_topics(run_dir) if topics is None else topics, run_dir / "topics.csv")
    result = evaluate_topics(
        segments, topic_table, label_column=label_column, analyzer=analyzer, story_column=story_column,
        top_n=top_n, where=where, block_counter=block_counter,
    )  # fmt: skip
    if seeds > 0:
        result["seed_stability"] = _refit_stability(run_dir, segments, seeds)
    result = _without_nan(json.loads(json.dumps(result, default=_jsonable)))
    (run_dir / "evaluation.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    return result


def evaluate_topics(
    segments: pd.DataFrame,
    topic_table: pd.DataFrame,
    *,
    label_column: str | None = None,
    analyzer: Analyzer | None = None,
    story_column: str = "story",
    top_n: int = 10,
    where: str = "segments",
    block_counter: BlockCounter | None = None,
) -> dict[str, Any]:
    """Coherence, diversity, outliers, and (when the columns exist) external validity and
    cross-lingual matches of one topic model, as one dict (NaN where a metric is undefined).

    `topic_table` has `topic_id` and `words` (a list per topic) and may have `words_<lang>`.
    NPMI counts co-occurrences in the fitted segments' text, tokenised by the package's own
    topic-word analyzer (so topic words and corpus tokens are the same units); topic bigrams have
    no single-token counterpart and are dropped from NPMI, and their number is reported.
    """
    # a mask, not a copy: the text column of 1M segments alone is gigabytes
    fitted = (
        (segments["duplicate_of"].fillna("") == "").to_numpy()
        if "duplicate_of" in segments
        else np.ones(len(segments), dtype=bool)
    )
    topic_words = [
        as_word_list(words)
        for topic_id, words in zip(topic_table["topic_id"], topic_table["words"], strict=True)
        if topic_id != OUTLIER
    ]

    tokenizer_name, tokenize = _resolve_tokenizer(analyzer)
    # Topic words are shown in their surface forms; NPMI needs them as the corpus tokens they stand for.
    shown = [[" ".join(tokenize(w)) for w in words[:top_n]] for words in topic_words]
    shown = [[w for w in words if w] for words in shown]
    n_ngrams = sum(1 for words in shown for w in words if " " in w)
    result: dict[str, Any] = {
        "n_segments": len(segments),
        "n_fitted_segments": int(fitted.sum()),
        "n_topics": len(topic_words),
        "outlier_share": outlier_share(segments["topic"].to_numpy()[fitted]),
        "top_n": top_n,
        "tokenizer": tokenizer_name,
    }
    if topic_words:
        by_language = (
            _language_topic_words(topic_table, tokenize, top_n) if "language" in segments.columns else {}
        )
        words_by_group = {None: [w for words in shown for w in words]} | {
            language: [w for words in lists for w in words] for language, lists in by_language.items()
        }
        counts = (block_counter or count_in_blocks)(_text_blocks(segments, fitted), words_by_group, tokenize)
        whole = counts[None]
        if whole.n_tokens == 0:
            raise EvaluationError("no tokens to count co-occurrences in: every document is empty")
        known = {w for words in shown for w in words if whole.occurs(w)}
        n_unknown = sum(1 for words in shown for w in words if w not in known)
        npmi, per_topic = npmi_from_counts(_known_words(shown, known, top_n=top_n), whole)
        ids = [int(t) for t in topic_table["topic_id"] if t != OUTLIER]
        result |= {
            "npmi": npmi,
            "npmi_per_topic": dict(zip(map(str, ids), per_topic, strict=True)),
            "npmi_words_dropped": {"ngrams": n_ngrams, "not_in_corpus": n_unknown - n_ngrams},
            "topic_diversity": topic_diversity(topic_words, top_n),
            "npmi_per_language": _npmi_per_language(by_language, counts),
        }
    else:
        result |= {"npmi": math.nan, "topic_diversity": math.nan, "note": "no topics besides outliers"}

    if label_column:
        if label_column == "topic":
            raise EvaluationError(
                "label column 'topic' is the model's own topic column; rename the reference-label "
                "column in the corpus mapping (e.g. to 'label') and pass that name"
            )
        _require_columns(segments, [label_column], where=where)
        result["external_validity"] = {
            "label_column": label_column,
            **external_validity(segments.loc[fitted, "topic"], segments.loc[fitted, label_column]),
        }
    if story_column in segments.columns:
        language = "doc_language" if "doc_language" in segments.columns else "language"
        result["cross_lingual"] = {
            "story_column": story_column,
            **cross_lingual_matches(segments, story_column, language_column=language),
        }
    return result


def _language_topic_words(
    topic_table: pd.DataFrame, tokenize: Analyzer, top_n: int
) -> dict[str, list[list[str]]]:
    """Each language's own topic words (`words_<lang>` columns) as corpus tokens, bigrams left out."""
    found = {}
    for column in (c for c in topic_table.columns if c.startswith("words_")):
        words = [
            [" ".join(tokenize(w)) for w in as_word_list(cell)][:top_n]
            for topic_id, cell in zip(topic_table["topic_id"], topic_table[column], strict=True)
            if topic_id != OUTLIER
        ]
        found[column.removeprefix("words_")] = [[w for w in ws if w and " " not in w] for ws in words]
    return found


def _npmi_per_language(
    by_language: dict[str, list[list[str]]], counts: dict[str | None, WindowCounts]
) -> dict[str, float]:
    """NPMI of each language's own topic words over that language's segments.

    Words of different languages never share a window, so the NPMI of a mixed-language word list
    is negative by construction; per language it measures what coherence is meant to. Words absent
    from the language's segments are dropped, as a dictionary of its own segments would.
    """
    scores = {}
    for language, words in by_language.items():
        own = counts[language]
        if own.n_tokens and any(len(set(ws)) >= 2 for ws in words):
            known = [[w for w in ws if own.occurs(w)] for ws in words if ws]
            scores[language] = npmi_from_counts(known, own)[0]
    return scores


COHERENCE_BLOCK = 10_000  # segments tokenised at a time: all 1M segments' token lists took ≈ 7 GB


def _text_blocks(segments: pd.DataFrame, fitted: np.ndarray) -> Iterator[tuple[list[str], np.ndarray | None]]:
    """The `fitted` segments' texts (and languages, when known) taken `COHERENCE_BLOCK` rows at a time."""
    for start in range(0, len(segments), COHERENCE_BLOCK):
        rows, keep = slice(start, start + COHERENCE_BLOCK), fitted[start : start + COHERENCE_BLOCK]
        languages = (
            segments["language"].iloc[rows].to_numpy()[keep] if "language" in segments.columns else None
        )
        yield segments["text"].iloc[rows][keep].astype(str).tolist(), languages


def coherence_counts(
    texts: Sequence[str], languages: np.ndarray | None, words_by_group: dict[str | None, list[str]],
    tokenize: Analyzer, window_size: int = 10,
) -> dict[str | None, WindowCounts]:  # fmt: skip
    """Window counts of one block of segments: of `words_by_group[None]` over all of them and of
    `words_by_group[language]` over that language's segments (in the client or on a worker)."""
    tokenized = [tokenize(text) for text in texts]
    counts = {}
    for group, words in words_by_group.items():
        docs = (
            tokenized
            if group is None
            else [t for t, lang in zip(tokenized, languages, strict=True) if lang == group]
        )
        counts[group] = window_counts(docs, words, window_size)
    return counts


def count_in_blocks(
    blocks: TextBlocks, words_by_group: dict[str | None, list[str]],
    tokenize: Analyzer,
) -> dict[str | None, WindowCounts]:  # fmt: skip
    """The blocks' window counts summed, one block tokenised at a time: the same integers as one
    pass over every segment, without holding every segment's tokens."""
    total = coherence_counts([], np.empty(0, dtype=object), words_by_group, tokenize)
    for texts, languages in blocks:
        part = coherence_counts(texts, languages, words_by_group, tokenize)
        total = {group: total[group] + part[group] for group in total}
    return total


def _without_nan(value: Any) -> Any:
    """NaN (and infinity) is not JSON: null instead (a topic NPMI could not score)."""
    if isinstance(value, dict):
        return {k: _without_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nan(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _read_segments(run_dir: Path) -> pd.DataFrame:
    path = run_dir / "segments.parquet"
    if not path.is_file():
        raise EvaluationError(f"{path} not found: evaluate a run folder written by `topics` or `run`")
    return pd.read_parquet(path)


def _read_topics(run_dir: Path) -> pd.DataFrame:
    path = run_dir / "topics.csv"
    if not path.is_file():
        raise EvaluationError(f"{path} not found: evaluate a run folder written by `topics` or `run`")
    return read_topics_csv(path)


def _topic_ids(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The topic table with its id column named `topic_id`, checked."""
    id_column = next((c for c in ("topic", "id", "topic_id", "Topic") if c in table.columns), None)
    if id_column is None or "words" not in table.columns:
        raise EvaluationError(
            f"{path} needs a topic id column (topic or id) and a 'words' column (top words joined by ', '); "
            f"it has {list(table.columns)}"
        )
    return table.rename(columns={id_column: "topic_id"}).astype({"topic_id": int})


def _resolve_tokenizer(analyzer: Analyzer | None) -> tuple[str, Analyzer]:
    """Unigram tokens in text order: the package's topic-word normalisation unless `analyzer` is given."""
    if analyzer is not None:
        return getattr(analyzer, "__name__", "custom"), lambda text: [
            t for t in analyzer(text) if " " not in t
        ]
    from analysis.vectorize import words_in

    return "analysis.vectorize.words_in", lambda text: words_in([text])[0]


def _refit_stability(run_dir: Path, segments: pd.DataFrame, seeds: int) -> dict[str, Any]:
    """Refit on the run's saved embeddings with `seeds` other seeds; compare all runs pairwise."""
    import dataclasses

    from analysis.config import RunConfig
    from analysis.encoders import load_encoder
    from analysis.themes import load_codebook
    from analysis.topics import fit_topics

    embeddings_path, manifest_path = run_dir / "embeddings.npy", run_dir / "manifest.json"
    for path in (embeddings_path, manifest_path):
        if not path.is_file():
            raise EvaluationError(f"{path} not found: seed stability refits from a run's saved embeddings")
    embeddings = np.load(embeddings_path)
    if embeddings.shape[0] != len(segments):
        raise EvaluationError(
            f"{embeddings_path} has {embeddings.shape[0]} rows but {run_dir / 'segments.parquet'} has "
            f"{len(segments)}; "
            "rerun `topics` to write matching embeddings"
        )
    config = RunConfig.from_dict(json.loads(manifest_path.read_text(encoding="utf-8")).get("config", {}))
    codebook = load_codebook(config.topics.codebook or None)
    encoder = load_encoder(config.embed)
    base_seed = config.topics.seed
    original = (segments["duplicate_of"].fillna("") == "").to_numpy() if "duplicate_of" in segments else None

    def fit(seed: int) -> np.ndarray:
        if seed == base_seed:
            topics = segments["topic"].to_numpy()
        else:
            topic_config = dataclasses.replace(config.topics, seed=seed)
            result = fit_topics(segments, embeddings, topic_config, codebook=codebook, encoder=encoder)
            topics = result.segment_topics["topic"].to_numpy()
        return topics if original is None else topics[original]  # duplicates would count twice

    table = seed_stability(fit, [base_seed + i for i in range(seeds + 1)])
    return {
        "seeds": sorted(set(table["seed_a"]) | set(table["seed_b"])),
        "ari_mean": float(table["ari"].mean()),
        "nmi_mean": float(table["nmi"].mean()),
        "pairs": table.to_dict(orient="records"),
    }


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], *, where: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise EvaluationError(f"{where}: missing column(s) {missing}; it has {list(frame.columns)}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return str(value)
