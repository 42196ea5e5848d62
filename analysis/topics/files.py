"""The topic table at its edges: topics.csv (words joined for spreadsheets) and topics.parquet.

Inside the package topic words are lists (`words`, `words_<lang>`: one list per topic). Only here
are they joined into text, for topics.csv, and split again when an older or hand-made topics.csv
is all there is. Imports no model library, so that evaluating or reporting a run stays light.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

WORD_SEPARATOR = ", "
TOPICS_PARQUET = "topics.parquet"


def word_columns(topics: pd.DataFrame) -> list[str]:
    """The columns that hold topic words: `words` and every `words_<lang>`."""
    return [c for c in topics.columns if c == "words" or c.startswith("words_")]


def write_topics_csv(topics: pd.DataFrame, path: str | Path) -> Path:
    """topics.csv: the topic table with each word list joined by ", " (the one writer of the file)."""
    path = Path(path)
    table = topics.copy()
    for column in word_columns(table):
        table[column] = [WORD_SEPARATOR.join(as_word_list(cell)) for cell in table[column]]
    table.to_csv(path, index=False, encoding="utf-8")
    return path


def read_topics_csv(path: str | Path) -> pd.DataFrame:
    """A topics.csv read back with its word columns as lists again."""
    table = pd.read_csv(path, keep_default_na=False, encoding="utf-8")
    for column in word_columns(table):
        table[column] = [as_word_list(cell) for cell in table[column]]
    return table


def read_topics(folder: str | Path) -> pd.DataFrame:
    """The topic table of a model or run folder: topics.parquet when there, else topics.csv."""
    folder = Path(folder)
    if (folder / TOPICS_PARQUET).is_file():
        table = pd.read_parquet(folder / TOPICS_PARQUET)
        for column in word_columns(table):
            table[column] = [as_word_list(cell) for cell in table[column]]
        return table
    return read_topics_csv(folder / "topics.csv")


def as_word_list(cell: object) -> list[str]:
    """One cell of a word column as a list of words: a list or array as is, text split on ", "."""
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return []
    if isinstance(cell, str):
        return [word.strip() for word in cell.split(",") if word.strip()]
    return [str(word[0] if isinstance(word, tuple | list) else word) for word in cell]  # (word, score)
