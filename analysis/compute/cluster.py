"""Start or connect to the Dask cluster named by `[compute] cluster` (`--cluster`).

"local" / "local:N" start a `LocalCluster` of worker processes on this machine (one thread each:
the encoder and numba already use the cores they are given); an address connects to a running
scheduler (`dask-scheduler`, dask-jobqueue on HPC, dask-kubernetes). One client per process is
kept for the whole run and closed at exit.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from analysis.config import ComputeConfig, cluster_workers

logger = logging.getLogger(__name__)

INSTALL_HINT = 'pip install -e ".[scale]"'
_CLIENTS: dict[tuple[str, str], Any] = {}


class ClusterError(RuntimeError):
    """The cluster cannot be used: the `scale` extra is missing, or the scheduler is unreachable."""


def _distributed() -> Any:
    try:
        import dask.dataframe  # noqa: F401  (the shuffles need it)
        import distributed
    except ImportError as exc:
        raise ClusterError(
            f"--cluster / [compute] cluster needs Dask, which is an optional extra: {INSTALL_HINT} "
            f"(installs dask[dataframe] and distributed; missing: {exc.name})"
        ) from None
    return distributed


def cluster_client(config: ComputeConfig, *, announce: bool = True) -> Any:
    """The `distributed.Client` for `config.cluster` (started once per process)."""
    key = (config.cluster, config.memory_limit)
    if key in _CLIENTS:
        return _CLIENTS[key]
    distributed = _distributed()
    logging.getLogger("distributed").setLevel(logging.WARNING)  # its INFO lines would bury the run's own
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)  # a note per shuffle, not a problem
    workers = cluster_workers(config.cluster)
    try:
        if workers is None:
            client = distributed.Client(config.cluster, timeout="30s")
        else:
            n_workers = workers or max(1, (os.cpu_count() or 1))
            cluster = distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True,
                memory_limit=config.memory_limit, dashboard_address=":0",
            )  # fmt: skip
            client = distributed.Client(cluster)
    except OSError as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {config.cluster!r}: {exc}; start one with "
                           "`dask scheduler` and `dask worker ADDRESS`, or use --cluster local:N") from exc  # fmt: skip
    _CLIENTS[key] = client
    if announce:
        n = len(client.scheduler_info().get("workers", {}))
        print(f"dask: {n} workers at {client.scheduler.address}; dashboard {client.dashboard_link}", flush=True)
    return client


def close_clients() -> None:
    """Close every client this process started (and the local clusters behind them)."""
    while _CLIENTS:
        _, client = _CLIENTS.popitem()
        cluster = getattr(client, "cluster", None)
        try:
            client.close()
            if cluster is not None:
                cluster.close()
        except Exception as exc:  # closing must never hide the run's own error
            logger.debug("closing the Dask client: %s", exc)


atexit.register(close_clients)


def progress_over(futures: Iterable[Any], desc: str, *, progress: bool = True) -> Iterator[Any]:
    """The futures as they finish, with a per-stage progress bar."""
    from distributed import as_completed
    from tqdm import tqdm

    futures = list(futures)
    yield from tqdm(as_completed(futures), total=len(futures), desc=desc, unit="part", disable=not progress)


def wait_all(futures: list[Any], desc: str, *, progress: bool = True) -> list[Any]:
    """Results of `futures` in their order, after a progress bar over their completion."""
    for _ in progress_over(futures, desc, progress=progress):
        pass
    return [future.result() for future in futures]


# --- peak memory of each worker, per stage ----------------------------------------------------------

_PEAK = {"mb": 0.0, "thread": None}


def _sample_worker_rss() -> float:
    """On a worker: start (once) a thread sampling this process's RSS every 20 ms; reset its peak."""
    import threading
    import time

    import psutil

    process = psutil.Process()
    _PEAK["mb"] = process.memory_info().rss / 2**20
    if _PEAK["thread"] is None:
        def sample() -> None:
            while True:
                _PEAK["mb"] = max(_PEAK["mb"], process.memory_info().rss / 2**20)
                time.sleep(0.02)

        _PEAK["thread"] = threading.Thread(target=sample, daemon=True)
        _PEAK["thread"].start()
    return _PEAK["mb"]


def _worker_peak() -> float:
    return round(_PEAK["mb"], 1)


def reset_worker_peaks(client: Any) -> None:
    client.run(_sample_worker_rss)


def worker_peaks(client: Any) -> dict[str, float]:
    """Peak RSS in MB of each worker since the last `reset_worker_peaks`, keyed by worker name."""
    peaks = client.run(_worker_peak)
    names = {address: str(w.get("name", address)) for address, w in client.scheduler_info()["workers"].items()}
    return {names.get(address, address): mb for address, mb in sorted(peaks.items())}
