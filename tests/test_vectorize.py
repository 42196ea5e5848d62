"""Topic-word vectorizer: Arabic and French normalisation, stop lists, n-grams, min_df scaling."""

from __future__ import annotations

import pytest

from analysis.vectorize import (
    darija_stop_words,
    make_vectorizer,
    normalise_arabic,
    normalise_for_words,
    scaled_min_df,
    stop_words,
    tokenize_words,
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


def test_tokens_are_letters_only_and_two_long():
    assert tokenize_words("covid19 en 2020 à a b 7ta ok") == ["covid", "en", "ta", "ok"]


def test_stop_words_are_normalised_like_text():
    stops = stop_words()
    assert {"الي", "في", "de", "the", "ديال", "dyal", "قال"} <= stops  # "الي" is "إلى" folded
    assert "إلى" not in stops  # only the folded form exists, as in normalised text
    assert len(darija_stop_words()) > 50


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
