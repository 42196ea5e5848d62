"""The stages on a Dask LocalCluster of 2 processes give the single process's results.

One cluster serves the module. Partitions are kept tiny so that every rule is exercised across
partitions: duplicates whose original sits in another block, cache shards written by two workers.
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_tables import synthetic_segments
from test_topics import planted_config, planted_corpus

from analysis import tables
from analysis.config import ComputeConfig, ConfigError, CorpusConfig, RunConfig, TableConfig
from analysis.corpus import build_corpus
from analysis.encoders.cache import EmbeddingCache
from analysis.pipeline import SAMPLE_CORPUS
from analysis.segment import _near_pairs, mark_duplicates
from analysis.themes import load_codebook
from analysis.topics import fit_topics

distributed = pytest.importorskip("distributed", reason='the scale extra: pip install -e ".[scale]"')

from analysis.compute import (  # noqa: E402  (after the skip: these need Dask)
    ClusterError,
    build_corpus_partitioned,
    close_clients,
    cluster_client,
    fit_on_sample,
    near_pairs_partitioned,
)
from analysis.compute.corpus import partition_corpus  # noqa: E402
from analysis.compute.tables import partitioned_counter  # noqa: E402
from analysis.compute.topics import sample_rows  # noqa: E402
from analysis.compute.words import topic_table_partitioned  # noqa: E402
from analysis.corpus import write_corpus  # noqa: E402
from analysis.pipeline import build_tables, cluster_counter, write_tables  # noqa: E402
from analysis.readers import CorpusError  # noqa: E402

STORY = (
    "The ministry announced a national plan for artificial intelligence in public services, with "
    "training for civil servants and a data centre near {city} to host the new platforms."
)


@pytest.fixture(scope="module")
def client():
    client = cluster_client(ComputeConfig(cluster="local:2", memory_limit="2GiB"), announce=False)
    yield client
    close_clients()


@pytest.fixture(scope="module")
def duplicated_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 documents: #9 repeats #1 exactly, #11 is #3 with one word changed (a near duplicate)."""
    cities = ["Rabat", "Fès", "Agadir", "Oujda", "Tanger", "Meknès", "Safi", "Nador", "Ifrane", "Tetouan"]
    texts = [f"Story {i}. " + STORY.format(city=city) + f" Item {i} of the series." for i, city in enumerate(cities)]
    texts += [texts[1], texts[3].replace("civil servants", "public servants")]
    table = pd.DataFrame({"id": [f"d{i}" for i in range(len(texts))], "text": texts,
                          "date": [f"2024-01-{i + 1:02d}" for i in range(len(texts))]})  # fmt: skip
    path = tmp_path_factory.mktemp("dups") / "news.csv"
    table.to_csv(path, index=False)
    return path


def test_partitioned_corpus_equals_the_single_process(client, duplicated_corpus: Path) -> None:
    single = build_corpus(duplicated_corpus, CorpusConfig(), progress=False)
    parted = build_corpus_partitioned(duplicated_corpus, CorpusConfig(), client, partition_size=2, progress=False)
    pd.testing.assert_frame_equal(parted.segments, single.segments)
    pd.testing.assert_frame_equal(parted.ledger, single.ledger)
    # the duplicates were found across partitions (blocks of 2 documents)
    duplicate_of = parted.segments.set_index("doc_id")["duplicate_of"].str.split("#").str[0]
    assert duplicate_of["d10"] == "d1" and duplicate_of["d11"] == "d3"
    status = parted.ledger[parted.ledger["kind"] == "document"].set_index("doc_id")["status"]
    assert status["d10"] == status["d11"] == "duplicate" and (status.drop(["d10", "d11"]) == "used").all()


def test_segments_written_by_the_workers_equal_the_single_process_files(client, duplicated_corpus, tmp_path) -> None:
    single = write_corpus(build_corpus(duplicated_corpus, CorpusConfig(), progress=False), tmp_path / "one")
    parted = partition_corpus(duplicated_corpus, CorpusConfig(), client, partition_size=3, progress=False)
    assert parted.duplicates == {"exact": 1, "near": 1} and len(parted.parts) == 4
    written = parted.write(tmp_path / "parts", client)
    pd.testing.assert_frame_equal(pd.read_parquet(written["segments"]), pd.read_parquet(single["segments"]))
    assert written["ledger"].read_bytes() == single["ledger"].read_bytes()
    import pyarrow.parquet as pq

    assert pq.ParquetFile(written["segments"]).metadata.num_row_groups == 4  # one per block of 3 documents
    assert not (tmp_path / "parts" / "segments.parts").exists()


def _two_file_corpus(folder: Path, second_ids: list[str]) -> Path:
    """Two CSV files of one source, each with a footer line in every document; `second_ids` for file b."""
    footer = "Follow us on the network for more news."
    for name, ids in (("a", [f"a{i}" for i in range(4)]), ("b", second_ids)):
        texts = [f"Article {i} of {name}. " + STORY.format(city=f"{name}{i}") + f"\n\n{footer}" for i in ids]
        pd.DataFrame({"id": ids, "text": texts}).to_csv(folder / f"{name}.csv", index=False)
    description = folder / "two.toml"
    description.write_text('name = "two"\n[[input]]\npath = "*.csv"\nid = "id"\nsource = "Same"\n')
    return description


def test_furniture_and_ids_are_counted_across_files(client, tmp_path: Path) -> None:
    # the footer is in 4 documents of each file: 8 in all, above min_docs = 5 only across the files
    description = _two_file_corpus(tmp_path, [f"b{i}" for i in range(4)])
    single = build_corpus(description, CorpusConfig(), progress=False)
    parted = build_corpus_partitioned(description, CorpusConfig(), client, partition_size=3, progress=False)
    pd.testing.assert_frame_equal(parted.segments, single.segments)
    pd.testing.assert_frame_equal(parted.ledger, single.ledger)
    assert not parted.segments["text"].str.contains("Follow us").any()
    assert (parted.ledger["kind"] == "piece").sum() == 8
    clash = tmp_path / "clash"
    clash.mkdir()
    with pytest.raises(CorpusError, match=r"duplicate document ids \(1\): 'a2' at .*a\.csv:row 3, .*b\.csv:row 2"):
        build_corpus_partitioned(_two_file_corpus(clash, ["b0", "a2"]), CorpusConfig(), client, progress=False)


def test_sample_corpus_is_the_same_in_partitions(client) -> None:
    single = build_corpus(SAMPLE_CORPUS, CorpusConfig(), progress=False)
    parted = build_corpus_partitioned(SAMPLE_CORPUS, CorpusConfig(), client, partition_size=16, progress=False)
    pd.testing.assert_frame_equal(parted.segments, single.segments)
    pd.testing.assert_frame_equal(parted.ledger, single.ledger)


@pytest.mark.parametrize("pair_chunk", [32_768, 4])
def test_near_pairs_by_band_shuffle_equal_the_in_memory_ones(client, monkeypatch, pair_chunk) -> None:
    monkeypatch.setattr("analysis.compute.dedupe._PAIR_CHUNK", pair_chunk)  # pairs compared in chunks
    rng = np.random.default_rng(3)
    words = [f"w{n}" for n in range(400)]
    texts = [" ".join(rng.choice(words, size=40)) for _ in range(60)]
    texts += [t.replace(t.split()[5], "changed", 1) for t in texts[:15]]  # near copies, other partitions
    texts += ["tiny", ""]  # no shingles: never a candidate
    expected = _near_pairs(texts, 0.85)
    found = near_pairs_partitioned(client, partition_size=7, progress=False)(texts, 0.85)
    assert len(expected) >= 15
    np.testing.assert_array_equal(np.unique(found, axis=0), np.unique(expected, axis=0))
    frame = pd.DataFrame({"text": texts, "segment_id": [f"s{i}" for i in range(len(texts))]})
    near = near_pairs_partitioned(client, partition_size=7, progress=False)
    pd.testing.assert_series_equal(mark_duplicates(frame, near_pairs=near), mark_duplicates(frame))


def test_fit_on_all_segments_when_fewer_than_the_sample_equals_the_single_process(client) -> None:
    segments, embeddings = planted_corpus()
    codebook = load_codebook()
    single = fit_topics(segments, embeddings, planted_config(), codebook=codebook)
    parted = fit_on_sample(segments, embeddings, planted_config(), ComputeConfig(fit_sample=10_000), client,
                           codebook=codebook, progress=False)  # fmt: skip
    pd.testing.assert_frame_equal(parted.segment_topics, single.segment_topics)
    pd.testing.assert_frame_equal(parted.topics, single.topics)
    assert parted.info["fit_on"] == "all original segments"


@pytest.mark.parametrize("representation", ["distinctive", "ctfidf"])
def test_topic_words_counted_in_partitions_equal_the_in_memory_words(client, representation) -> None:
    segments, embeddings = planted_corpus()
    config = planted_config(representation=representation)
    single = fit_topics(segments, embeddings, config, codebook=load_codebook())
    original = segments[segments["duplicate_of"] == ""]
    topic_of = single.segment_topics.set_index("segment_id")["topic"]
    table = topic_table_partitioned(
        client, original["text"].tolist(), topic_of[original["segment_id"]].to_numpy(),
        original["language"].to_numpy(), single.topics, single.model.vectorizer_model, config,
        CorpusConfig().languages, partition_size=9, progress=False,
    )  # fmt: skip
    assert len(original) > 4 * 9 and len(single.topics) >= 4  # several partitions, several topics
    language_columns = [c for c in single.topics.columns if c.startswith("words_")]
    assert any(len(words) for words in single.topics["words_ar"])
    pd.testing.assert_frame_equal(table, single.topics)  # words, words per language, labels, sizes, shares
    assert language_columns


def test_fit_on_a_sample_assigns_the_rest_to_the_same_stories(client) -> None:
    segments, embeddings = planted_corpus()
    codebook = load_codebook()
    compute = ComputeConfig(fit_sample=120, partition_size=25)
    result = fit_on_sample(segments, embeddings, planted_config(), compute, client, codebook=codebook,
                           progress=False)  # fmt: skip
    original = (segments["duplicate_of"] == "").to_numpy()
    fitted = sample_rows(original, 120, planted_config().seed)
    assert len(fitted) == 120 and result.info["n_assigned"] == original.sum() - 120
    np.testing.assert_array_equal(fitted, sample_rows(original, 120, planted_config().seed))  # reproducible
    joined = segments.merge(result.segment_topics, on="segment_id")
    # each planted story is one topic, for the fitted and the assigned segments alike
    purity = joined[joined["topic"] != -1].groupby("story")["topic"].agg(lambda t: (t == t.mode().iloc[0]).mean())
    assert (purity == 1.0).all(), purity
    # the outlier rule keeps the least typical tenth of each topic's members' similarity out: some
    # assigned segments are outliers, as in the fit, but most join their story's topic
    assert 0 < result.info["outlier_share_assigned"] < 0.4, result.info["outlier_share_assigned"]
    assert result.topics["size"].sum() == original.sum()  # sizes count every original, not the sample
    # language shares (and the words beside them) are counted over every original, fitted or assigned
    originals = joined[joined["duplicate_of"] == ""]
    for topic, group in originals.groupby("topic"):
        shares = group["language"].value_counts(normalize=True)
        expected = " · ".join(f"{lang} {share:.0%}" for lang, share in sorted(shares.items(), key=lambda p: (-p[1], p[0])))
        assert result.topics.set_index("topic").at[topic, "languages"] == expected
    copies = joined[joined["duplicate_of"] != ""]
    topic_of = joined.set_index("segment_id")["topic"]
    assert (copies["topic"].to_numpy() == topic_of[copies["duplicate_of"]].to_numpy()).all()


@pytest.fixture(scope="module")
def shuffled_segments() -> pd.DataFrame:
    """The tables' synthetic segments in a random order: an article's segments fall in several
    partitions, and which comes first decides the order of its group's documents."""
    return synthetic_segments().sample(frac=1.0, random_state=5).reset_index(drop=True)


@pytest.mark.parametrize(("by", "unit", "include_duplicates"),
                         [("source", "theme", True), ("language", "topic", True), ("period", "theme", False)])  # fmt: skip
def test_share_tables_counted_in_partitions_equal_the_single_process(
    client, shuffled_segments, by, unit, include_duplicates
) -> None:
    config = TableConfig(n_bootstrap=300, seed=3, period="month")
    counter = partitioned_counter(client, partition_size=37, progress=False)
    assert len(shuffled_segments) > 10 * 37
    single = tables.share_table(shuffled_segments, by=by, unit=unit, config=config,
                                include_duplicates=include_duplicates)  # fmt: skip
    parted = tables.share_table(shuffled_segments, by=by, unit=unit, config=config,
                                include_duplicates=include_duplicates, counter=counter)  # fmt: skip
    pd.testing.assert_frame_equal(parted, single, check_exact=True)  # intervals to the last digit
    assert parted.attrs == single.attrs
    assert (single["ci_high"] > single["ci_low"]).any()  # a real interval, not a degenerate one
    trends = tables.theme_trends(shuffled_segments, config, counter=counter)
    pd.testing.assert_frame_equal(trends, tables.theme_trends(shuffled_segments, config), check_exact=True)


def test_every_table_is_the_same_with_a_cluster(client, shuffled_segments, tmp_path: Path) -> None:
    topics = pd.DataFrame({"topic": sorted(shuffled_segments["topic"].unique())})
    topics["words"] = [["infrastructure", "data"]] * len(topics)
    settings = {"tables": {"n_bootstrap": 200, "period": "month"}, "findings": {"compare_date": "2024-03-01"}}
    alone = RunConfig.from_dict(settings)
    # the module's cluster (same setting and memory limit), partitions of 37 segments
    on_cluster = RunConfig.from_dict(settings | {"compute": {"cluster": "local:2", "memory_limit": "2GiB",
                                                             "partition_size": 37}})  # fmt: skip
    written = {}
    for name, config in (("alone", alone), ("cluster", on_cluster)):
        write_tables(build_tables(shuffled_segments, topics, config, counter=cluster_counter(config)),
                     tmp_path / name, config)  # fmt: skip
        written[name] = {p.name: p.read_bytes() for p in sorted((tmp_path / name / "tables").glob("*.csv"))}
    assert {"theme_by_source.csv", "theme_by_period.csv", "topic_by_language.csv"} <= set(written["alone"])
    assert written["cluster"] == written["alone"]


def _add_shard(cache_dir: str, worker: int) -> None:
    identity = {"name": "test-encoder", "dimension": 4}
    keys = [f"{worker}-{i}" for i in range(20)]
    EmbeddingCache(cache_dir).add(identity, keys, np.full((20, 4), worker, dtype=np.float32))


def test_cache_shards_added_by_several_processes_at_once_are_all_kept(client, tmp_path: Path) -> None:
    futures = [client.submit(_add_shard, str(tmp_path), worker, pure=False) for worker in range(12)]
    client.gather(futures)
    vectors = EmbeddingCache(tmp_path).lookup({"name": "test-encoder", "dimension": 4})
    assert len(vectors) == 12 * 20
    assert all(float(vectors[f"{w}-7"][0]) == w for w in range(12))
    assert not list(tmp_path.rglob("*.tmp"))


def test_cache_in_an_fsspec_url(tmp_path: Path) -> None:
    cache = EmbeddingCache("memory://analysis-test-cache")
    identity = {"name": "test-encoder", "dimension": 4}
    cache.add(identity, ["a", "b"], np.eye(2, 4, dtype=np.float32))
    cache.add(identity, ["c"], np.ones((1, 4), dtype=np.float32))
    vectors = EmbeddingCache("memory://analysis-test-cache").lookup(identity)
    assert sorted(vectors) == ["a", "b", "c"] and float(vectors["c"].sum()) == 4.0


def test_cluster_setting_is_checked_and_the_missing_extra_is_named(monkeypatch) -> None:
    assert RunConfig().compute.cluster == ""  # the default: one process, no Dask
    with pytest.raises(ConfigError, match="local:N"):
        ComputeConfig(cluster="local:two")
    with pytest.raises(ConfigError, match="fit_sample"):
        RunConfig.from_dict({"compute": {"fit_sample": 0}})
    real_import = builtins.__import__

    def without_dask(name, *args, **kwargs):
        if name.startswith(("distributed", "dask")):
            raise ImportError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_dask)
    with pytest.raises(ClusterError, match=r"\.\[scale\]"):
        cluster_client(ComputeConfig(cluster="local:3"))


def test_tables_of_a_cluster_run_are_rebuilt_without_its_cluster(shuffled_segments) -> None:
    # `figures RUN_DIR` and `curate` rebuild a finished run's tables; the scheduler the run used may
    # be gone, so only `run` hands build_tables a cluster counter
    topics = pd.DataFrame({"topic": sorted(shuffled_segments["topic"].unique())})
    topics["words"] = [["infrastructure", "data"]] * len(topics)
    gone = RunConfig.from_dict({"tables": {"n_bootstrap": 50, "period": "month"},
                                "compute": {"cluster": "tcp://127.0.0.1:9"}})  # nothing listens there  # fmt: skip
    tables = build_tables(shuffled_segments, topics, gone)
    assert tables["theme_by_source"]["n_segments"].sum() > 0
    assert cluster_counter(RunConfig()) is None


def test_npmi_counted_on_the_workers_equals_the_single_process(client, monkeypatch) -> None:
    """The evaluation's window counts made block by block on the workers give the in-process
    evaluation exactly: NPMI per topic and per language, words dropped, and every other number."""
    import analysis.evaluate as evaluate_module
    from analysis.compute.coherence import partitioned_block_counter

    rng = np.random.default_rng(4)
    words = {"en": ["data", "centre", "compute", "cloud", "farm", "rain", "wheat", "harvest", "power"],
             "fr": ["données", "calcul", "nuage", "serveur", "pluie", "blé", "ferme", "récolte", "énergie"]}  # fmt: skip
    rows = [(lang, " ".join(rng.choice(words[lang], size=rng.integers(0, 25)))) for lang in ("en", "fr") for _ in range(30)]
    segments = pd.DataFrame({
        "doc_id": [f"d{i // 2}" for i in range(len(rows))], "text": [text for _, text in rows],
        "language": [lang for lang, _ in rows], "topic": rng.integers(-1, 2, size=len(rows)),
        "duplicate_of": ["d0" if i % 7 == 3 else "" for i in range(len(rows))],
    })  # fmt: skip
    topics = pd.DataFrame({
        "topic_id": [-1, 0, 1], "words": [["x"], ["data", "centre", "données", "calcul"], ["farm", "rain", "pluie"]],
        "words_en": [["x"], ["data", "centre", "compute"], ["farm", "rain", "wheat", "serveur"]],
        "words_fr": [["x"], ["données", "calcul", "nuage"], ["pluie", "blé", "ferme"]],
    })  # fmt: skip
    single = evaluate_module.evaluate_topics(segments, topics)
    monkeypatch.setattr(evaluate_module, "COHERENCE_BLOCK", 7)
    parted = evaluate_module.evaluate_topics(
        segments, topics, block_counter=partitioned_block_counter(client, in_flight=3, progress=False)
    )
    assert parted == single
    assert set(single["npmi_per_language"]) == {"en", "fr"} and not np.isnan(single["npmi"])


def test_run_on_a_cluster_gives_the_single_process_outputs(client, tmp_path: Path) -> None:
    """`run --cluster local:2` on the sample corpus (the module's cluster, through its settings):
    the same ledger, segments, topics, tables and evaluation as one process, and the workers'
    peaks recorded for the stages that ran on them."""
    from analysis.cli import main

    config = tmp_path / "cluster.toml"
    config.write_text('[compute]\ncluster = "local:2"\nmemory_limit = "2GiB"\n', encoding="utf-8")
    cache = tmp_path / "cache"
    common = ["--cache-dir", str(cache), "--no-progress"]
    assert main(["run", "--out", str(tmp_path / "one"), *common]) == 0
    assert main(["run", "--out", str(tmp_path / "many"), "--config", str(config), *common]) == 0
    one, many = tmp_path / "one", tmp_path / "many"
    for name in ("ledger.csv", "topics.csv", "evaluation.json", "tables/theme_by_source.csv",
                 "tables/theme_by_period.csv"):  # fmt: skip
        assert (one / name).read_bytes() == (many / name).read_bytes(), name
    pd.testing.assert_frame_equal(pd.read_parquet(one / "segments.parquet"), pd.read_parquet(many / "segments.parquet"))
    manifest = json.loads((many / "manifest.json").read_text(encoding="utf-8"))
    assert {"tables", "evaluate"} <= set(manifest["compute"]["stages"])
    assert "compute" not in json.loads((one / "manifest.json").read_text(encoding="utf-8"))
