"""Run folders: one run per folder, checked before any work, never read as finished when it is not.

A run folder's `manifest.json` carries a run id, a status (`running` until the last stage succeeds,
then `complete`; `failed` or `interrupted` otherwise) and the SHA-256 of every data file a stage
wrote. `prepare_run_folder` decides, before any work, whether a folder may take a run (new, empty,
`overwrite`, or `resume` of the same SOURCE and settings); `check_run` refuses to read a run that did
not finish or whose files are not the ones it wrote. `analysis.pipeline` owns the manifest itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from analysis.config import RunConfig
from analysis.jsonio import write_json

MANIFEST = "manifest.json"
# Run status in manifest.json: "running" from the first write until the last stage succeeds, so a
# run stopped by Ctrl-C, an error or a killed process is never read as finished.
RUNNING, COMPLETE, FAILED, INTERRUPTED = "running", "complete", "failed", "interrupted"
REUSABLE_STAGES = ("corpus", "topics")  # stages a resumed run may take over; later ones are redone
_TOPIC_SECTIONS = frozenset({"embed", "topics"})  # settings the topics stage uses beyond the corpus's
_RECOMPUTED_SECTIONS = frozenset({"tables", "figures"})  # used only by stages a resume always redoes
_CACHE_ENV = "ANALYSIS_CACHE_DIR"


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked (another run in it, unwritable, unfinished, altered)."""


def prepare_run_folder(
    run_dir: Path,
    *,
    command: str,
    source: Path,
    config: RunConfig,
    overwrite: bool = False,
    resume: bool = False,
) -> tuple[dict[str, Any] | None, list[str]]:
    """Check RUN_DIR before any work; return the previous run's manifest and the stages to reuse.

    A run folder holds one run. A folder holding another run is refused unless `overwrite` (it
    is cleared first) or `resume` (same SOURCE and configuration: the stages it completed, with
    their files unchanged, are reused); a run that failed or was interrupted before completing any
    stage is cleared without asking. A non-empty folder that is not a run folder is never cleared.
    RUN_DIR and SOURCE may not contain each other, and RUN_DIR (and an explicit embedding cache)
    must be writable; each problem is a RunFolderError saying what to do.
    """
    if overwrite and resume:
        raise RunFolderError("--overwrite and --resume exclude each other; choose one")
    run_dir = Path(run_dir)
    _check_apart(run_dir, source)
    previous = _previous_run(run_dir)
    resumed: list[str] = []
    if (
        previous is not None
        and not previous.get("completed")
        and previous.get("status") in (FAILED, INTERRUPTED)
    ):
        overwrite = True  # a run that stopped before completing a stage left nothing to keep
    if previous is not None and overwrite:
        _clear(run_dir)
    elif previous is not None and resume:
        resumed = _resumable_stages(run_dir, previous, source, config)
        # Only the files of the reused stages stay: tables, figures and reports are redone, and
        # nothing computed with the earlier settings may sit beside the new outputs.
        _clear(run_dir, keep={MANIFEST, *previous.get("files", {})} if resumed else set())
    elif previous is not None:
        raise RunFolderError(
            f"{run_dir} holds another run ({previous.get('command', '?')} of {previous.get('source', '?')}, "
            f"started {previous.get('started', '?')}, {previous.get('status', 'complete')}); add --overwrite "
            "to replace it, --resume to continue it with the same SOURCE and settings, or choose another --out"
        )
    _check_writable(run_dir, "--out")
    if command in ("topics", "run"):
        cache = config.embed.cache_dir or os.environ.get(_CACHE_ENV, "")
        if cache:
            _check_writable(Path(cache).expanduser(), "--cache-dir (embedding cache)")
    return previous, resumed


def check_run(run_dir: Path) -> dict[str, Any]:
    """The manifest of a finished run folder whose data files are the ones the run wrote.

    Refuses a folder that is not a run folder, a run that did not finish (status running, failed,
    interrupted) and a data file changed since its run wrote it (another run's output, an edit).
    Manifests written before run status existed are accepted as they are.
    """
    path = run_dir / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"{run_dir} is not a run folder (no {MANIFEST}); make one with "
            f"`python -m analysis topics SOURCE --out {run_dir}`"
        )
    data = _read_manifest(path)
    status = data.get("status", COMPLETE)
    if status != COMPLETE:
        why = f" ({data['error']})" if data.get("error") else ""
        raise RunFolderError(
            f"{run_dir}: the run did not finish (status {status!r}{why}); finish it with "
            f"`python -m analysis {data.get('command', 'run')} {data.get('source', 'SOURCE')} --out {run_dir} "
            "--resume`, or rerun it with --overwrite"
        )
    recorded = data.get("files", {})
    for relative, digest in recorded.items():
        file = run_dir / relative
        if not file.is_file() or _sha256(file) != digest:
            raise RunFolderError(
                f"{file} is not the file this run wrote ({'missing' if not file.is_file() else 'changed'} "
                f"since; run {data.get('run_id', '?')}); rerun with --overwrite"
            )
    return data


def record_changed_files(run_dir: Path, files: list[str]) -> None:
    """Record new digests for data files a later command rewrote on purpose (e.g. a curation).

    `check_run` refuses a data file whose digest differs from the manifest; a command that edits a
    finished run's files in place calls this afterwards, so its edits are the run's own.
    """
    path = run_dir / MANIFEST
    data = _read_manifest(path)
    for relative in files:
        data.setdefault("files", {}).update(file_digests(run_dir, relative))
    write_json(path, data)


def _read_manifest(path: Path) -> dict[str, Any]:
    """A run folder's manifest, read without checking its files."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path}: not a readable manifest ({exc}); rerun into a new folder") from exc


def inputs_fingerprint(source: Path, inputs: list[str]) -> str:
    """A digest of the input files' names, sizes and modification times (and a folder's listing)."""
    entries = [str(p) for p in sorted(source.iterdir())] if source.is_dir() else []
    for name in sorted({str(source), *inputs}):
        path = Path(name)
        if path.is_file():
            info = path.stat()
            entries.append(f"{path.resolve()}\t{info.st_size}\t{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(entries).encode("utf-8")).hexdigest()


def _check_apart(run_dir: Path, source: Path) -> None:
    from analysis.corpus import source_folders

    out, src = run_dir.resolve(), source.resolve()
    for folder in source_folders(source):
        if out.is_relative_to(folder.resolve()):
            label = (
                f"SOURCE {source}" if folder == source else f"the corpus folder {folder} that SOURCE reads"
            )
            raise RunFolderError(
                f"--out {run_dir} is inside {label}: the next run would read the outputs as articles; "
                "write the run folder outside the corpus folder"
            )
    if src.is_relative_to(out):
        raise RunFolderError(
            f"SOURCE {source} is inside --out {run_dir}: a run folder holds only a run's outputs; "
            "choose a run folder outside the corpus"
        )


def check_inputs_outside(inputs: list[str], run_dir: Path) -> None:
    out = run_dir.resolve()
    inside = [name for name in inputs if Path(name).resolve().is_relative_to(out)]
    if inside:
        raise RunFolderError(f"input file {inside[0]} is inside --out {run_dir}; write the run folder "
                             "outside the corpus")  # fmt: skip


def _previous_run(run_dir: Path) -> dict[str, Any] | None:
    """The manifest of the run in `run_dir`; None when the folder is new or empty."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunFolderError(f"--out {run_dir} is a file, not a folder; give a folder path")
    if not run_dir.is_dir():
        return None
    try:
        entries = list(run_dir.iterdir())
    except OSError as exc:
        raise RunFolderError(
            f"cannot read --out {run_dir} ({exc.strerror or exc}); choose another folder"
        ) from exc
    if not entries:
        return None
    manifest = run_dir / MANIFEST
    if not manifest.is_file():
        raise RunFolderError(
            f"--out {run_dir} is not empty and holds no run ({MANIFEST} missing; it has "
            f"{', '.join(sorted(p.name for p in entries)[:5])}); give a new or empty folder "
            "(--overwrite clears only run folders)"
        )
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return {"command": "?", "source": "?", "status": "unreadable manifest"}


def _clear(run_dir: Path, keep: set[str] | None = None) -> None:
    """Remove everything in `run_dir` except the top-level entries holding the `keep` paths."""
    kept = {Path(relative).parts[0] for relative in keep or ()}
    try:
        for entry in run_dir.iterdir():
            if entry.name in kept:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    except OSError as exc:
        raise RunFolderError(
            f"cannot clear --out {run_dir} ({exc}); remove it yourself or choose another folder"
        ) from exc


def _resumable_stages(run_dir: Path, previous: dict[str, Any], source: Path, config: RunConfig) -> list[str]:
    """The completed stages of `previous` a resumed run may reuse; refuses another source or config."""
    if previous.get("source") != str(source):
        raise RunFolderError(
            f"--resume: {run_dir} holds a run of {previous.get('source')!r}, not {str(source)!r}; "
            "use --overwrite to replace it, or another --out"
        )
    completed = [s for s in previous.get("completed", []) if s in REUSABLE_STAGES]
    old = json.loads(json.dumps(previous.get("config", {})))
    new = json.loads(json.dumps(config.to_dict(), default=str))
    for settings in (old, new):
        settings.get("embed", {}).pop("cache_dir", None)  # where vectors are cached changes no result
    # Settings a completed stage was computed with must not change; later stages are recomputed
    # with the new ones (so `run --resume --period year` redoes the tables, not the fit).
    changed = sorted(
        f"[{section}] {key}"
        for section in set(old) | set(new)
        if any(_stage_uses(stage, section) for stage in completed)
        for key in set(old.get(section, {})) | set(new.get(section, {}))
        if old.get(section, {}).get(key) != new.get(section, {}).get(key)
    )
    if changed:
        raise RunFolderError(
            f"--resume: {run_dir} was run with other settings ({', '.join(changed[:5])} differ); "
            "use --overwrite to rerun it, or another --out"
        )
    if "corpus" in completed and previous.get("inputs_fingerprint") != inputs_fingerprint(
        source, list(previous.get("corpus", {}).get("inputs", []))
    ):
        raise RunFolderError(
            f"--resume: the files of {source} changed since {run_dir} was run; use --overwrite to rerun it"
        )
    files = previous.get("files", {})
    intact = all((run_dir / f).is_file() and _sha256(run_dir / f) == d for f, d in files.items())
    if not intact:
        return []  # an output was changed or removed: redo every stage
    return completed if "corpus" in completed else []


def _stage_uses(stage: str, section: str) -> bool:
    """Whether a reusable stage's outputs depend on a config section (unknown sections: they do)."""
    if section in _RECOMPUTED_SECTIONS:
        return False
    return stage == "topics" or section not in _TOPIC_SECTIONS


def _check_writable(folder: Path, option: str) -> None:
    """Create `folder` and write a probe file into it, so that OS errors surface before any work."""
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"{option} {folder} is a file, not a folder; give a folder path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise RunFolderError(
            f"cannot write to {option} {folder} ({exc.strerror or exc}); choose a folder you can write to"
        ) from exc


def file_digests(run_dir: Path, relative: str) -> dict[str, str]:
    path = run_dir / relative
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {p.relative_to(run_dir).as_posix(): _sha256(p) for p in files}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
