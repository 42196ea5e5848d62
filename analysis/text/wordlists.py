"""The one reader of the packaged word lists (`analysis/data/*.txt`).

Every list has the same form: one entry per line, `#` starts a comment, and an optional `[name]`
line starts a section (Darija markers by script, stop-word exceptions by language). Three readers
of this format once lived in two modules and treated lines before the first section differently.
"""

from __future__ import annotations

import functools
from importlib import resources


@functools.cache
def read_word_list(name: str) -> dict[str, tuple[str, ...]]:
    """Section → entries (in file order) of `analysis/data/<name>`; entries before any section go under "".

    Raises FileNotFoundError naming the packaged file when it is missing.
    """
    path = resources.files("analysis").joinpath("data", name)
    if not path.is_file():
        raise FileNotFoundError(f"packaged word list analysis/data/{name} is missing (reinstall the package)")
    sections: dict[str, list[str]] = {}
    current = sections.setdefault("", [])
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry.startswith("[") and entry.endswith("]"):
            current = sections.setdefault(entry[1:-1], [])
        elif entry:
            current.append(entry)
    return {section: tuple(entries) for section, entries in sections.items() if entries or section}
