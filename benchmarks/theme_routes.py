"""Segment-theme route vs topic-theme route against reference themes (issue 10).

    python benchmarks/theme_routes.py sample RUN_DIR   # a run on analysis/data/sample
    python benchmarks/theme_routes.py seeds RUN_DIR    # a run on ../shared/corpus/seeds

Sample: the reference is the article's planted `label` (manifest.csv), scored on body paragraphs
(25 words or more); a paragraph may well be about another theme than its article, so this is a
lower bound for both routes. Seeds: paragraphs judged by hand (benchmarks/results/seed_themes_hand.csv:
segment id, primary theme, every acceptable theme; "other" where no theme fits; no corpus text).
A route is right when its theme (topic route: the topic's theme; segment route: the best segment
theme) is the primary theme, or (lenient) one of the acceptable ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def main(kind: str, run_dir: str) -> None:
    segments = pd.read_parquet(Path(run_dir) / "segments.parquet")
    if kind == "sample":
        manifest = pd.read_csv(ROOT / "analysis" / "data" / "sample" / "manifest.csv")
        segments["primary"] = segments["doc_id"].map(
            dict(zip(manifest["id"], manifest["label"], strict=True))
        )
        segments = segments[segments["text"].str.split().str.len() >= 25]
        segments["acceptable"] = segments["primary"].map(lambda p: {p})
    else:
        hand = pd.read_csv(ROOT / "benchmarks" / "results" / "seed_themes_hand.csv")
        hand["acceptable"] = hand["acceptable"].str.split(";").map(set)
        segments = segments.merge(hand, on="segment_id", how="inner")
    n = len(segments)
    print(f"{kind}: {n} paragraphs")
    for name, column in (
        ("topic route", "theme"),
        ("segment route", "seg_theme"),
        ("dictionary only", "dict_theme"),
    ):
        strict = (segments[column] == segments["primary"]).mean()
        lenient = segments.apply(lambda r, c=column: r[c] in r["acceptable"], axis=1).mean()
        other = (segments[column] == "other").mean()
        print(f"  {name:<16} right {strict:6.1%}  acceptable {lenient:6.1%}  'other' {other:6.1%}")
    carried = segments.apply(lambda r: r["primary"] in set(r["seg_themes"]), axis=1).mean()
    print(f"  primary theme among the segment themes (multi-label): {carried:.1%}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
