"""NPMI's window counts on a cluster: each block of segments tokenised and counted on a worker.

`analysis.evaluate.count_in_blocks` counts the blocks one after another in the client; the
counter made here sends each block to a worker (`analysis.evaluate.coherence_counts`, the same
function) and sums the returned counts, which are integers, so the scores are the single
process's to the last digit. Only a few blocks are in flight at a time: the client never holds
more than those blocks' texts, and the tokens stay on the workers.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

import numpy as np

from analysis.evaluate import Analyzer, BlockCounter, TextBlocks, WindowCounts, coherence_counts


def partitioned_block_counter(client: Any, *, in_flight: int = 0, progress: bool = True) -> BlockCounter:
    """An `evaluate_topics` block counter on `client`'s workers, with `in_flight` blocks sent at a
    time (default: two per worker thread)."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    def counter(
        blocks: TextBlocks, words_by_group: dict[str | None, list[str]], tokenize: Analyzer
    ) -> dict[str | None, WindowCounts]:
        limit = in_flight or 2 * max(1, sum(client.nthreads().values()))
        total = coherence_counts([], np.empty(0, dtype=object), words_by_group, tokenize)
        blocks = iter(blocks)

        def send(texts: list[str], languages: Any) -> Any:
            return client.submit(coherence_counts, texts, languages, words_by_group, tokenize, pure=False)

        running = as_completed([send(*block) for block in islice(blocks, limit)])
        with tqdm(desc="coherence counts", unit="part", disable=not progress) as bar:
            for future in running:
                part = future.result()
                total = {group: total[group] + part[group] for group in total}
                bar.update()
                following = next(blocks, None)
                if following is not None:
                    running.add(send(*following))
        return total

    return counter
