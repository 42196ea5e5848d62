"""Command line: `python -m analysis corpus|topics|run|evaluate SOURCE --out RUN_DIR`.

Thin by design: it parses options into a `RunConfig`, calls `analysis.pipeline`, and prints a
summary. User mistakes (a missing file, a bad column, an unknown setting) end with a one-paragraph
message and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import typing
from pathlib import Path
from typing import Any

from analysis.config import (
    ConfigError,
    PAdjust,
    Period,
    RunConfig,
    SegmentUnit,
    SelectLevel,
    ThemeSource,
    TopicMode,
)

EXIT_USER_ERROR = 2


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean 'the input or options are wrong', gathered from every stage."""
    errors: list[type[BaseException]] = [ConfigError, FileNotFoundError]
    for module, name in (
        ("analysis.corpus", "CorpusError"),
        ("analysis.run_folder", "RunFolderError"),
        ("analysis.topics", "UnsafeModelError"),
        ("analysis.encoders", "EncoderUnavailableError"),
        ("analysis.themes", "CodebookError"),
        ("analysis.evaluate", "EvaluationError"),
        ("analysis.compute.cluster", "ClusterError"),
    ):
        with contextlib.suppress(ImportError, AttributeError):
            errors.append(getattr(__import__(module, fromlist=[name]), name))
    return tuple(errors)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Multilingual topic modelling and trend analysis of news.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str, *, source_required: bool) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "source",
            nargs=None if source_required else "?",
            default=None,
            help="a folder of .txt/.md/.html files (optional manifest.csv), a table "
            "(.csv/.tsv/.jsonl/.parquet) or a corpus description (.toml)"
            + ("" if source_required else "; default: the packaged sample corpus"),
        )
        sub.add_argument("--out", required=True, type=Path, help="run folder to write (created if missing)")
        sub.add_argument(
            "--config", type=Path, help="TOML file with [corpus] [embed] [topics] [tables] sections"
        )
        sub.add_argument("--languages", help="comma-separated language codes to detect, e.g. ar,fr,en")
        sub.add_argument("--segment-by", choices=typing.get_args(SegmentUnit))
        sub.add_argument("--no-progress", action="store_true", help="hide progress bars")
        sub.add_argument(
            "--cluster", metavar="local[:N]|ADDRESS",
            help="run the stages on Dask ([compute] cluster): local:N workers here, or a scheduler address",
        )  # fmt: skip
        reuse = sub.add_mutually_exclusive_group()
        reuse.add_argument(
            "--overwrite", action="store_true", help="clear RUN_DIR first when it holds an earlier run"
        )
        reuse.add_argument(
            "--resume",
            action="store_true",
            help="continue the run in RUN_DIR (same SOURCE and settings), reusing its completed stages",
        )
        select = sub.add_argument_group("selecting the sub-corpus ([select] in a config file)")
        select.add_argument(
            "--select",
            metavar="KEYWORDS",
            help='keyword list: "ai" (packaged AI and digital policy) or a TOML file',
        )
        select.add_argument(
            "--select-terms", metavar="T1,T2", help="extra terms, comma-separated, any language"
        )
        select.add_argument(
            "--select-regex", action="append", metavar="REGEX", help="regex on the raw text (repeatable)"
        )
        select.add_argument("--select-themes", metavar="K1,K2", help="codebook theme keys whose terms select")
        select.add_argument("--date-from", metavar="YYYY-MM-DD", help="first date kept (inclusive)")
        select.add_argument("--date-to", metavar="YYYY-MM-DD", help="last date kept (inclusive)")
        select.add_argument("--sources", metavar="S1,S2", help="sources kept, comma-separated")
        select.add_argument("--select-languages", metavar="L1,L2", help="segment languages kept, e.g. ar,fr")
        select.add_argument(
            "--select-level", choices=typing.get_args(SelectLevel), help="segment (default) or document"
        )
        return sub

    add(
        "corpus",
        "load, clean and segment a corpus; write segments.parquet, ledger.csv, manifest.json",
        source_required=False,
    )
    for name, text in (
        ("topics", "corpus → embeddings → BERTopic topics and themes; adds topics.csv and model/"),
        ("run", "the whole job: corpus → topics → tables → figures → report.html"),
    ):
        sub = add(name, text, source_required=False)
        sub.add_argument(
            "--model",
            help='encoder: "use-multilingual-v3" (the default, no download), or a sentence-transformers hub name or local folder',
        )
        sub.add_argument(
            "--no-fallback",
            action="store_true",
            help="fail instead of falling back to the default encoder when the model is unavailable",
        )
        sub.add_argument("--cache-dir", help="embedding cache folder")
        sub.add_argument("--seed", type=int, help="random seed for UMAP/HDBSCAN and bootstraps")
        sub.add_argument("--nr-topics", type=int, help="reduce to this many topics")
        sub.add_argument("--mode", choices=typing.get_args(TopicMode), help="use of the codebook")
        sub.add_argument("--codebook", help="theme codebook TOML (default: the packaged one)")
        sub.add_argument("--period", choices=typing.get_args(Period), help="time grouping for trends")
        findings = sub.add_argument_group("findings ([findings] in a config file)")
        findings.add_argument(
            "--theme-source", choices=typing.get_args(ThemeSource),
            help="theme shares from each segment's own themes (default) or from its topic's theme",
        )  # fmt: skip
        findings.add_argument("--compare-date", metavar="YYYY-MM-DD", help="compare before / from this date")
        findings.add_argument("--compare-by", metavar="COLUMN", help="compare two groups of this column")
        findings.add_argument("--compare-groups", metavar="A,B", help="the two values of --compare-by")
        findings.add_argument("--p-adjust", choices=typing.get_args(PAdjust), help="correction over themes")

    cu = commands.add_parser(
        "curate", help="apply a curation.toml to a run folder (no refit); rebuild tables, figures, report"
    )
    cu.add_argument("run_dir", type=Path, help="a run folder written by `run`")
    cu.add_argument(
        "file", type=Path, help="curation TOML: hide, [rename], [[merge]], [theme] (see analysis/curate.py)"
    )
    fi = commands.add_parser("figures", help="redraw a run folder's figures and report (no refit)")
    fi.add_argument("run_dir", type=Path, help="a run folder written by `run`")
    au = commands.add_parser(
        "codebook-audit", help="each codebook term's hits and share of segments in a corpus or run folder"
    )
    au.add_argument("source", help="a run folder (its segments.parquet) or any corpus SOURCE")
    au.add_argument("--out", type=Path, required=True, help="CSV file to write")
    au.add_argument("--codebook", help="theme codebook TOML (default: the packaged one)")
    ev = commands.add_parser("evaluate", help="coherence, diversity, stability and validity of a run folder")
    ev.add_argument("run_dir", type=Path, help="a run folder written by `topics` or `run`")
    ev.add_argument("--out", type=Path, help="ignored alias kept for symmetry; results go into RUN_DIR")
    ev.add_argument("--labels", help="segment column holding reference labels (NMI/ARI)")
    ev.add_argument("--seeds", type=int, default=0, help="refit with this many extra seeds for stability")
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Defaults ← corpus description [config] ← --config file ← command-line options."""
    config = RunConfig()
    source = getattr(args, "source", None)
    if source and str(source).endswith(".toml") and Path(source).is_file():
        config = RunConfig.from_toml(source, description=True)
    if args.config:
        config = RunConfig.from_toml(args.config, base=config)  # layered on the description's [config]
    corpus: dict[str, Any] = {}
    embed: dict[str, Any] = {}
    topics: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    if args.languages:
        corpus["languages"] = tuple(code.strip() for code in args.languages.split(",") if code.strip())
    if args.segment_by:
        corpus["segment_by"] = args.segment_by
    if getattr(args, "model", None):
        embed["model"] = args.model
    if getattr(args, "no_fallback", False):
        embed["fallback"] = "error"
    if getattr(args, "cache_dir", None):
        embed["cache_dir"] = args.cache_dir
    if getattr(args, "seed", None) is not None:
        topics["seed"] = args.seed
        tables["seed"] = args.seed
    if getattr(args, "nr_topics", None) is not None:
        topics["nr_topics"] = args.nr_topics
    if getattr(args, "mode", None):
        topics["mode"] = args.mode
    if getattr(args, "codebook", None):
        topics["codebook"] = args.codebook
    if getattr(args, "period", None):
        tables["period"] = args.period
    compute = {"cluster": args.cluster} if getattr(args, "cluster", None) else {}
    return config.replace(
        corpus=corpus, embed=embed, topics=topics, tables=tables, select=_select_options(args),
        findings=_findings_options(args), compute=compute,
    )  # fmt: skip


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def _select_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name, key in (("select", "keywords"), ("date_from", "date_from"), ("date_to", "date_to"),
                      ("select_level", "level")):  # fmt: skip
        if getattr(args, name, None):
            options[key] = getattr(args, name)
    for name, key in (("select_terms", "terms"), ("select_themes", "themes"), ("sources", "sources"),
                      ("select_languages", "languages")):  # fmt: skip
        if getattr(args, name, None):
            options[key] = _split(getattr(args, name))
    if getattr(args, "select_regex", None):
        options["regex"] = tuple(args.select_regex)
    return options


def _findings_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name in ("theme_source", "compare_date", "compare_by", "p_adjust"):
        if getattr(args, name, None):
            options[name] = getattr(args, name)
    if getattr(args, "compare_groups", None):
        options["compare_groups"] = _split(args.compare_groups)
    return options


def format_summary(summary: dict[str, Any]) -> str:
    """The corpus summary as aligned text blocks."""
    lines = []
    docs = summary.get("documents", {})
    lines.append(
        f"documents: {docs.get('inputs', '?')} in, {docs.get('used', '?')} used, "
        f"{docs.get('excluded', '?')} excluded"
    )
    for title, key in (
        ("excluded by reason", "excluded_by_reason"),
        ("segments by language", "segments_by_language"),
        ("segments by source", "segments_by_source"),
        ("segments by month", "segments_by_month"),
        ("dates", "dates"),
    ):
        block = summary.get(key)
        if not block:
            continue
        lines.append(f"{title}:")
        items = list(block.items())
        if key == "segments_by_month" and len(items) > 14:
            shown = [*items[:6], ("…", f"{len(items) - 12} more months"), *items[-6:]]
        else:
            shown = items
        width = max(len(str(k)) for k, _ in shown)
        lines.extend(f"  {k!s:<{width}}  {v}" for k, v in shown)
    segs = summary.get("segments", {})
    if segs:
        lines.append(
            f"segments: {segs.get('total', '?')} ({segs.get('duplicates', 0)} duplicates, modelled once)"
        )
    return "\n".join(lines)


def format_selection(selection: dict[str, Any]) -> str:
    """What the selection rules kept: the funnel, the content rules, sources and languages."""
    lines = [f"selection ({selection.get('level')} level):"]
    for step in selection.get("steps", []):
        kept = f"{step['segments']} segments, {step['documents']} documents"
        if "segments_left_out" in step:  # the rule names why segments were left out, not why others stayed
            lines.append(f"  {step['segments_left_out']} segments left out ({step['rule']}): {kept} remain")
        else:
            lines.append(f"  {step['rule']}: {kept}")
    for title, key in (("kept by content rule", "kept_by_content_rule"), ("kept by source", "kept_by_source"),
                       ("kept by language", "kept_by_language"), ("most frequent matches", "top_matches")):  # fmt: skip
        block = selection.get(key) or {}
        if block:
            lines.append(f"  {title}:")
            for name, value in list(block.items())[:10]:
                shown = (
                    f"{value['segments']} segments, {value['documents']} documents"
                    if isinstance(value, dict)
                    else value
                )
                lines.append(f"    {name}  {shown}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    progress = not getattr(args, "no_progress", False)
    try:
        from analysis import pipeline, rerun

        if args.command == "evaluate":
            from analysis.jsonio import dumps_json

            results = dict(rerun.run_evaluate(args.run_dir, label_column=args.labels, seeds=args.seeds))
            results.pop("npmi_per_topic", None)  # per-topic values stay in the file
            print(dumps_json(results))  # null where a metric is undefined, as in evaluation.json
            print(f"\nwritten: {args.run_dir / 'evaluation.json'}")
            return 0

        if args.command == "curate":
            result = rerun.run_curate(args.run_dir, args.file)
            for change in result.manifest.data["curation"]["changes"]:
                print(change)
            print(f"report: {result.report}")
            return 0
        if args.command == "figures":
            result = rerun.run_figures(args.run_dir)
            print(f"{len(result.figures)} figure files in {args.run_dir / 'figures'}; report: {result.report}")
            return 0
        if args.command == "codebook-audit":
            audit = rerun.run_codebook_audit(args.source, args.out, codebook=args.codebook)
            flagged = audit[audit["flag"] != ""]
            print(f"{len(audit)} terms, {len(flagged)} flagged generic? (share above the threshold):")
            for row in flagged.head(30).itertuples():
                print(
                    f"  {row.theme:<24} {row.language:<6} {row.term:<28} {row.segment_share:6.2%}  ({row.n_segments})"
                )
            print(f"written: {args.out}")
            return 0
        config = config_from_args(args)
        runner = {"corpus": pipeline.run_corpus, "topics": pipeline.run_topics, "run": pipeline.run_all}
        result = runner[args.command](
            args.source, args.out, config, progress=progress, overwrite=args.overwrite, resume=args.resume
        )
        data = result.manifest.data
        print(format_summary(data.get("corpus", {})))
        if "selection" in data:
            print(format_selection(data["selection"]))
        if "encoder" in data:
            encoder = data["encoder"]
            print(f"encoder: {encoder.get('name')} ({encoder.get('kind')})")
            if encoder.get("fallback_reason"):
                print(f"WARNING: fallback encoder used: {encoder['fallback_reason']}")
        if "topics" in data:
            print(
                f"topics: {data['topics'].get('n_topics')} "
                f"(outliers {data['topics'].get('outlier_share', 0):.0%}) → {args.out / 'topics.csv'}"
            )
        findings = data.get("findings") or {}
        if findings.get("segments_carrying"):
            carrying = ", ".join(f"{k} {v}" for k, v in findings["segments_carrying"].items())
            print(f"segments carrying each theme (segment themes, several per segment allowed): {carrying}")
        for warning in findings.get("warnings", []):
            print(f"WARNING: {warning}")
        print(
            "stages: "
            + ", ".join(f"{c.name} {c.seconds:.1f}s/{c.peak_rss_mb:.0f} MB" for c in result.manifest.costs)
        )
        print(f"run folder: {args.out}")
        if result.report is not None:
            print(f"report: {result.report}")
        return 0
    except _user_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # a file or folder the system refused (permissions, disk full, a vanished path)
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot read or write{where}: {exc.strerror or exc}; check the path and its permissions",
              file=sys.stderr)  # fmt: skip
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
