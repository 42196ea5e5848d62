"""The run configuration: TOML round trip, overrides, and errors that say what to change."""

from __future__ import annotations

import pytest

from analysis.cli import build_parser, config_from_args
from analysis.config import ConfigError, RunConfig


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
