"""Do topics found with the (retired) lexical stand-in encoder mix languages? Plain char TF-IDF → LSA against ours.

On a stratified sample of ../shared/corpus/morocco-news (Hespress Arabic: title + first ~500
characters of the story; Bladi/H24info/Hespress FR: title + lead; Morocco World News: title + dek),
both embeddings go through the same BERTopic (UMAP and HDBSCAN with fixed seeds, min_topic_size 15).
A topic is "bilingual" when two languages each hold at least 10 % of its documents. Also reported:
the share of documents having another-language document among their 10 nearest neighbours.

    python benchmarks/offline_encoder_bridging.py [--n 4000] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from lexical_encoder import OfflineEncoder
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from analysis.vectorize import make_vectorizer

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "morocco-news"
RESULTS = Path(__file__).resolve().parent / "results" / "offline_encoder_bridging.md"


def _lead(text: str, limit: int = 500) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0]


def load_sample(n: int, seed: int) -> pd.DataFrame:
    """Title + lead per document of the three outlets, stratified by language, `n` documents."""
    arabic = pd.concat([pd.read_csv(p) for p in sorted((CORPUS / "hespress-ar").glob("stories_*.csv"))])
    french = pd.concat([pd.read_csv(p) for p in sorted((CORPUS / "outlets-fr").glob("*.csv"))])
    french = french[french["title"] != "title"]  # the stray repeated header row
    english = pd.read_csv(CORPUS / "moroccoworldnews-en" / "moroccoworldnews.csv")
    frames = [
        pd.DataFrame(
            {"text": arabic["title"].fillna("") + ". " + arabic["story"].map(_lead), "language": "ar"}
        ),
        pd.DataFrame(
            {"text": french["title"].fillna("") + ". " + french["resume"].fillna(""), "language": "fr"}
        ),
        pd.DataFrame(
            {"text": english["title"].fillna("") + ". " + english["headline"].fillna(""), "language": "en"}
        ),
    ]
    documents = pd.concat(frames, ignore_index=True).drop_duplicates("text")
    share = min(1.0, n / len(documents))
    return (
        documents.groupby("language", group_keys=False)
        .sample(frac=share, random_state=seed)
        .reset_index(drop=True)
    )


def char_lsa(texts: list[str], seed: int, n_components: int = 100) -> np.ndarray:
    """The baseline: character 2–4-gram TF-IDF → LSA, rows unit length."""
    tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2)
    reduced = TruncatedSVD(n_components=n_components, random_state=seed).fit_transform(
        tfidf.fit_transform(texts)
    )
    return (reduced / np.linalg.norm(reduced, axis=1, keepdims=True).clip(1e-12)).astype(np.float32)


def bilingual_topics(topics: np.ndarray, languages: np.ndarray, min_share: float = 0.10) -> pd.Series:
    """Per topic (outliers excluded): the languages holding ≥ min_share of its documents, e.g. "ar+fr"."""
    table = pd.crosstab(topics[topics >= 0], languages[topics >= 0], normalize="index")
    return table.apply(lambda row: "+".join(sorted(row.index[row >= min_share])), axis=1)


def neighbour_mixing(embeddings: np.ndarray, languages: np.ndarray, k: int = 10) -> float:
    """Share of documents with at least one other-language document among their k nearest."""
    similarity = embeddings @ embeddings.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argpartition(-similarity, k, axis=1)[:, :k]
    return float((languages[nearest] != languages[:, None]).any(axis=1).mean())


def fit_topics(texts: list[str], embeddings: np.ndarray, seed: int) -> np.ndarray:
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from umap import UMAP

    model = BERTopic(
        umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed),
        hdbscan_model=HDBSCAN(min_cluster_size=15, metric="euclidean", prediction_data=True),
        vectorizer_model=make_vectorizer(0),
        min_topic_size=15,
        language="multilingual",  # "english" strips every non-ASCII letter from the topic words
    )
    topics, _ = model.fit_transform(texts, embeddings)
    return np.asarray(topics), model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="documents in the sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concept-weights", type=float, nargs="+", default=[0.8, 0.9])
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"{CORPUS} not found: this benchmark reads ../shared/corpus/morocco-news")
    sample = load_sample(args.n, args.seed)
    texts, languages = sample["text"].tolist(), sample["language"].to_numpy()
    counts = sample["language"].value_counts().to_dict()
    rows, examples = [], {}
    candidates = {"char TF-IDF → LSA (100)": lambda: char_lsa(texts, args.seed)}
    for weight in args.concept_weights:
        candidates[f"OfflineEncoder(concept_weight={weight})"] = lambda w=weight: OfflineEncoder(
            concept_weight=w
        ).encode(texts)
    for name, embed in candidates.items():
        started = time.perf_counter()
        embeddings = embed()
        seconds = time.perf_counter() - started
        topics, model = fit_topics(texts, embeddings, args.seed)
        spread = bilingual_topics(topics, languages)
        mixed, total = int(spread.str.contains("+", regex=False).sum()), len(spread)
        pairs = spread[spread.str.contains("+", regex=False)].value_counts().to_dict()
        examples[name] = [
            f"{topic} ({spread[topic]}, {(topics == topic).sum()} docs): "
            + ", ".join(word for word, _ in model.get_topic(topic)[:8])
            for topic in spread[spread.str.contains("+", regex=False)].index[:8]
        ]
        rows.append(
            {
                "embedding": name,
                "dimension": embeddings.shape[1],
                "encode s": round(seconds, 1),
                "docs/s": round(len(texts) / seconds),
                "topics": total,
                "bilingual topics": mixed,
                "bilingual share": f"{mixed / max(total, 1):.1%}",
                "language sets": ", ".join(f"{k} {v}" for k, v in pairs.items()) or "-",
                "outliers": f"{(topics < 0).mean():.1%}",
                "docs with other-language 10-NN": f"{neighbour_mixing(embeddings, languages):.1%}",
            }
        )
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).to_markdown(index=False)
    machine = f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPU cores"
    report = (
        "# Offline encoder: do topics mix languages?\n\n"
        f"Sample of morocco-news: {len(texts)} documents ({counts}), stratified by language, seed {args.seed}.\n"
        "BERTopic with UMAP(n_neighbors=15, n_components=5, random_state=seed), HDBSCAN(min_cluster_size=15).\n"
        "A topic is bilingual when two languages each hold at least 10 % of its documents (outliers excluded).\n\n"
        f"{table}\n\nMachine: {machine}.\n"
        "\nFirst bilingual topics of each embedding (topic, languages ≥ 10 %, size: top words):\n"
        + "".join(
            f"\n{name}:\n" + "".join(f"- {line}\n" for line in lines or ["(none)"])
            for name, lines in examples.items()
        )
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report, encoding="utf-8")
    print(table)
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
