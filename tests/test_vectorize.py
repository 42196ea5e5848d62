"""Topic-word vectorizer: Arabic and French normalisation, stop lists, n-grams, min_df scaling;
the distinctive-word score."""

from __future__ import annotations

import math

import numpy as np
import pytest
import stopwordsiso
from bertopic.vectorizers import ClassTfidfTransformer
from scipy import sparse

from analysis.vectorize import (
    DISTINCTIVE_SMOOTHING,
    darija_stop_words,
    distinctive_word_scores,
    make_vectorizer,
    normalise_arabic,
    normalise_for_words,
    scaled_min_df,
    stop_word_exceptions,
    stop_words,
    tokenize_words,
    top_scored,
)

MIXED_CORPUS = [
    "L'intelligence artificielle transforme l'administration marocaine et les services publics.",
    "Le gouvernement investit dans l'intelligence artificielle et les centres de données.",
    "La souveraineté numérique est une priorité pour les centres de données du Maroc.",
    "الذكاء الاصطناعي في المغرب: الحكومة تستثمر في مراكز البيانات.",
    "قال الوزير إن الذكاءُ الاصطناعي أولوية في الإدارة المغربية.",
    "مراكز البيانات والسيادة الرقمية في قلب الاستراتيجية الوطنية للذكاء الاصطناعي.",
    "Morocco's government said artificial intelligence is a priority for public services.",
    "The data centres of Morocco serve digital sovereignty and artificial intelligence.",
    "واش الذكاء الاصطناعي غادي يبدل بزاف ديال الخدمات؟",
]


def test_french_elision_is_split_off():
    assert tokenize_words(normalise_for_words("l'intelligence")) == ["intelligence"]
    # "à" is one letter: too short to be a topic word
    assert tokenize_words(normalise_for_words("Qu’il d'État jusqu'à")) == ["il", "état"]
    # A word with an inner apostrophe that is not an elision stays one token pair, not a clitic
    assert "aujourd" in tokenize_words(normalise_for_words("aujourd'hui"))


@pytest.mark.parametrize("variant", ["الذكاءُ", "ألذكاء", "الذّكاء", "الذكـــاء"])
def test_arabic_variants_normalise_equal(variant):
    assert normalise_arabic(variant) == normalise_arabic("الذكاء")


def test_arabic_letter_folding():
    assert normalise_arabic("إدارة مستشفى آمن") == "اداره مستشفي امن"
    assert normalise_arabic("Le Maroc") == "Le Maroc"


def test_light_stemming_strips_articles_and_suffixes_conservatively():
    assert normalise_arabic("والاقتصاد بالمغرب للشركات", stem=True) == "اقتصاد مغرب شرك"
    # too short to strip: stays whole
    assert normalise_arabic("الام", stem=True) == "الام"


def test_tokens_are_letters_only_and_two_long_but_arabizi_keeps_its_digits():
    assert tokenize_words("covid19 en 2020 à a b 7ta ok") == ["covid", "en", "7ta", "ok"]
    assert tokenize_words("sna3i w l3ar mp3 g7 cop27") == ["sna3i", "l3ar", "mp", "cop"]


def test_stop_words_are_normalised_like_text():
    stops = stop_words()
    assert {"الي", "في", "de", "the", "ديال", "dyal", "قال"} <= stops  # "الي" is "إلى" folded
    assert "إلى" not in stops  # only the folded form exists, as in normalised text
    assert len(darija_stop_words()) > 50


def test_content_words_that_stopwords_iso_lists_are_kept():
    exceptions = stop_word_exceptions()
    assert set(exceptions) == {"en", "fr", "ar"}
    stops = stop_words()
    for language, words in exceptions.items():
        listed = stopwordsiso.stopwords(language)
        for word in words:
            assert word in listed, (
                f"{word!r} ({language}) is not a stopwords-iso word: drop it from the exceptions"
            )
            assert not set(tokenize_words(normalise_for_words(word))) & stops, (language, word)
    vocabulary = set(
        make_vectorizer(1).fit(["The EU AI Act: زيارة الوزير", "L'État et la recherche"]).vocabulary_
    )
    assert {"ai", "act", "ai act", "زياره", "état"} <= vocabulary
    assert not {"the", "et", "la"} & vocabulary  # function words still go


def test_no_stop_word_in_vocabulary_and_bigrams_present():
    vectorizer = make_vectorizer(len(MIXED_CORPUS))
    vectorizer.fit(MIXED_CORPUS)
    vocabulary = set(vectorizer.get_feature_names_out())
    unigrams = {term for term in vocabulary if " " not in term}
    assert not unigrams & stop_words()
    for term in vocabulary:
        assert not set(term.split()) & stop_words(), term
    assert {"intelligence artificielle", "الذكاء الاصطناعي", "artificial intelligence"} <= vocabulary
    assert "intelligence" in vocabulary and "l'intelligence" not in vocabulary
    # "الذكاءُ" (with damma) counted as the same word
    assert "الذكاءُ" not in vocabulary
    counts = vectorizer.transform(MIXED_CORPUS)
    column = vectorizer.vocabulary_["الذكاء"]
    # rows 4, 5 (with damma) and 9; "للذكاء" (row 6) is another word unless stem=True
    assert counts[:, column].sum() == 3
    assert not any(term.isdigit() for term in vocabulary)


def test_min_df_scales_with_corpus_size():
    assert [scaled_min_df(n) for n in (10, 199, 200, 1999, 5000, 100_000)] == [1, 1, 2, 2, 5, 20]
    assert make_vectorizer(50_000).min_df == 20
    assert make_vectorizer(50_000, min_df=3).min_df == 3
    with pytest.raises(ValueError, match="n_documents"):
        scaled_min_df(-1)


def test_stemmed_vectorizer_groups_inflections():
    vectorizer = make_vectorizer(3, ngram_range=(1, 1), stem=True).fit(
        ["الشركات الناشئة", "شركات ناشئة في المغرب", "للشركات"]
    )
    assert vectorizer.transform(["الشركات"])[0, vectorizer.vocabulary_["شرك"]] == 1


# ---------------------------------------------------------------------------------------------
# Distinctive-word scores


def test_distinctive_scores_by_hand():
    # words: a, b, c; documents 0-2 in topic 0, documents 3-4 in topic 5
    presence = np.array([[1, 1, 0], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 1, 0]])
    topics, scores = distinctive_word_scores(sparse.csr_matrix(presence * 3), np.array([0, 0, 0, 5, 5]))
    assert topics == [0, 5]
    eps = DISTINCTIVE_SMOOTHING
    # "a": in 2 of topic 0's 3 documents and in none of the other 2
    assert scores[0, 0] == pytest.approx(2 / 3 * math.log((2 / 3) / eps))
    # "b": in every document, so in no topic more than elsewhere: slightly negative
    assert scores[0, 1] == pytest.approx(math.log(1 / (1 + eps)))
    assert scores[1, 1] < 0
    # "c": in 1 of topic 5's 2 documents, absent from topic 0 (stays a structural zero)
    assert scores[1, 2] == pytest.approx(0.5 * math.log(0.5 / eps))
    assert scores[0, 2] == 0 and scores.nnz == 4
    vocabulary = np.array(["a", "b", "c"])
    assert [w for w, _ in top_scored(scores.getrow(0), vocabulary, 10)] == ["a"]  # no negative words
    assert [w for w, _ in top_scored(scores.getrow(1), vocabulary, 10)] == ["c"]


def test_distinctive_scores_count_documents_not_repetitions():
    """One long document repeating "rare" must not name a topic that most documents call "shared"."""
    counts = np.zeros((10, 3))
    counts[:5, 0] = 1  # "shared": once in each of topic 0's five documents
    counts[0, 1] = 40  # "rare": forty times in one of them
    counts[:, 2] = 1  # "filler" everywhere
    topics = np.array([0] * 5 + [1] * 5)
    vocabulary = np.array(["shared", "rare", "filler"])
    per_topic = sparse.csr_matrix(np.vstack([counts[:5].sum(0), counts[5:].sum(0)]))
    ctfidf = ClassTfidfTransformer().fit_transform(per_topic).toarray()
    assert vocabulary[np.argmax(ctfidf[0])] == "rare"  # what c-TF-IDF puts first
    _, scores = distinctive_word_scores(sparse.csr_matrix(counts), topics)
    assert [w for w, _ in top_scored(scores.getrow(0), vocabulary, 2)] == ["shared", "rare"]


def test_distinctive_scores_check_their_inputs():
    with pytest.raises(ValueError, match="3 document rows but 2 topic"):
        distinctive_word_scores(sparse.csr_matrix(np.ones((3, 2))), np.array([0, 1]))


@pytest.mark.parametrize(
    ("ngram_range", "min_df", "max_features"),
    [((1, 2), 1, None), ((1, 2), 2, None), ((1, 1), 1, None), ((2, 3), 1, None), ((1, 2), 1, 50)],
)
def test_topic_word_vectorizer_counts_exactly_as_scikit_learn(sample_corpus, ngram_range, min_df, max_features):
    """The array-based counting gives scikit-learn's vocabulary and matrix, fitted and transformed."""
    from sklearn.feature_extraction.text import CountVectorizer

    texts = sample_corpus.segments["text"].astype(str).tolist()
    fast = make_vectorizer(len(texts), ngram_range=ngram_range, min_df=min_df)
    fast.set_params(max_features=max_features)
    fast.BLOCK = 50  # several blocks, so that merging their vocabularies is exercised
    plain = CountVectorizer(**fast.get_params())
    assert type(fast) is not CountVectorizer and type(plain) is CountVectorizer
    counts, expected = fast.fit_transform(texts), plain.fit_transform(texts)
    assert fast.vocabulary_ == plain.vocabulary_
    assert list(fast.get_feature_names_out()) == list(plain.get_feature_names_out())
    assert counts.shape == expected.shape and counts.dtype == expected.dtype
    assert (counts != expected).nnz == 0
    assert counts.shape[1] == max_features or counts.shape[1] > 500  # Arabic, French and English terms
    new = ["Le Maroc investit dans les centres de données.", "", "الذكاء الاصطناعي في المغرب", "zzz qqq"]
    assert (fast.transform(new) != plain.transform(new)).nnz == 0
    assert fast.transform(new)[0].sum() > 0 and fast.transform(new)[3].sum() == 0
