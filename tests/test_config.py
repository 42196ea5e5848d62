"""The run configuration: TOML round trip, overrides, and errors that say what to change."""

from __future__ import annotations

import typing

import pytest

from analysis.cli import build_parser, config_from_args
from analysis.config import ConfigError, FigureConfig, Period, RunConfig, TableConfig, TopicConfig


def test_defaults_are_multilingual_and_seeded():
    config = RunConfig()
    assert config.corpus.languages == ("ar", "fr", "en")
    assert "multilingual" in config.embed.model
    assert config.topics.seed == config.tables.seed == 42


def test_toml_sections_override_defaults_and_lists_become_tuples(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        '[corpus]\nlanguages = ["ar", "fr"]\nsegment_by = "sentence"\n[tables]\nperiod = "quarter"\n',
        encoding="utf-8",
    )
    config = RunConfig.from_toml(path)
    assert config.corpus.languages == ("ar", "fr")
    assert config.corpus.segment_by == "sentence"
    assert config.tables.period == "quarter"
    assert config.topics == RunConfig().topics  # untouched sections keep their defaults


def test_corpus_description_config_block_is_read(tmp_path):
    path = tmp_path / "corpus.toml"
    path.write_text('[[inputs]]\npath = "x.csv"\n[config.embed]\nmodel = "my/model"\n', encoding="utf-8")
    assert RunConfig.from_toml(path).embed.model == "my/model"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[corpus]\nlanguage = ['ar']\n", "unknown setting(s) ['language']"),
        ("[tables]\nperiod = 'week'\n", "period = 'week' is not one of 'auto', 'month', 'quarter', 'year'"),
        ("[corpuss]\n", "unknown section(s) ['corpuss']"),
        ("[corpus\n", "not valid TOML"),
    ],
)
def test_bad_config_names_the_setting_and_the_valid_values(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        RunConfig.from_toml(path)
    assert message in str(excinfo.value)


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        RunConfig.from_toml(tmp_path / "nope.toml")


def test_command_line_options_override_the_config_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[embed]\nmodel = "some/model"\n[topics]\nseed = 1\n', encoding="utf-8")
    args = build_parser().parse_args(
        [
            "topics",
            "corpus_dir",
            "--out",
            str(tmp_path / "run"),
            "--config",
            str(path),
            "--seed",
            "7",
            "--model",
            "my/model",
            "--languages",
            "ar, fr,en,ber",
            "--no-fallback",
        ]
    )
    config = config_from_args(args)
    assert config.embed.model == "my/model"
    assert config.embed.fallback == "error"
    assert config.topics.seed == 7 and config.tables.seed == 7
    assert config.corpus.languages == ("ar", "fr", "en", "ber")


def test_layers_defaults_then_description_then_config_file_then_options(tmp_path):
    """Each layer changes only the settings it names; the later layer wins where two name the same."""
    description = tmp_path / "corpus.toml"
    description.write_text(
        '[[input]]\npath = "data.csv"\n'
        '[config.embed]\nmodel = "from/description"\nbatch_size = 8\n'
        '[config.topics]\nseed = 3\nmin_topic_size = 12\n'
        '[config.tables]\nn_bootstrap = 50\n',
        encoding="utf-8",
    )
    config_file = tmp_path / "run.toml"
    config_file.write_text('[topics]\nseed = 5\n[tables]\nconfidence = 0.9\n', encoding="utf-8")
    args = build_parser().parse_args(
        ["run", str(description), "--out", str(tmp_path / "run"), "--config", str(config_file), "--nr-topics", "9"]
    )
    config = config_from_args(args)
    assert config.embed.model == "from/description"  # only the description names it: kept
    assert config.embed.batch_size == 8
    assert config.topics.min_topic_size == 12
    assert config.tables.n_bootstrap == 50
    assert config.topics.seed == 5  # the --config file wins over the description
    assert config.tables.confidence == 0.9
    assert config.topics.nr_topics == 9  # the option wins over both
    assert config.topics.n_components == TopicConfig().n_components  # named by no layer: the default


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: TopicConfig(min_topic_size="ten"), "[topics] min_topic_size = 'ten': must be an integer ≥ 2"),
        (lambda: TopicConfig(min_topic_size=1), "[topics] min_topic_size = 1 is out of range: must be an integer ≥ 2"),
        (lambda: TopicConfig(centre_languages="yes"), "[topics] centre_languages = 'yes': must be true or false"),
        (lambda: TopicConfig(representation="tfidf"), "is not one of 'distinctive', 'keybert'"),
        (lambda: TableConfig(confidence=1.0), "[tables] confidence = 1.0 is out of range: must be a number > 0 and < 1"),
        (lambda: FigureConfig(formats=("png", "gif")), "[figures] formats = ('png', 'gif') is not one of 'png', 'svg', 'pdf'"),
    ],
)
def test_building_a_section_directly_checks_types_and_ranges(build, message):
    with pytest.raises(ConfigError) as excinfo:
        build()
    assert message in str(excinfo.value)


def test_command_line_choices_are_the_literal_types():
    parser = build_parser()
    run = next(a for a in parser._subparsers._group_actions[0].choices["run"]._actions if a.dest == "period")
    assert tuple(run.choices) == typing.get_args(Period)
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--out", "x", "--period", "week"])
