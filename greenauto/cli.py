"""The ``greenauto`` command: ``fit``, ``worker``, ``report``, ``predict`` and ``datasets``.

Bad input (a missing file, an unknown column or dataset, a non-numeric budget, an output
folder that is missing or not writable: checked before any search) ends with one line
``greenauto: error: ...`` on stderr and exit code 2, as argparse does for bad options; any
other failure with one such line and exit code 1; Ctrl-C with exit code 130 (a ``fit``
without ``--storage`` first writes its outputs from the trials finished so far). No
traceback is shown.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from greenauto.automl import DEFAULT_MAX_SCORE_DROP
from greenauto.energy import METER_KINDS
from greenauto.metrics import OBJECTIVES as _OBJECTIVE_METRICS
from greenauto.results import SearchProgress, TrialRecord

__all__ = ["main"]

PICKLE_NOTE = (
    "Model files are greenauto's pickle-free format (a zip of JSON and .npy arrays, validated "
    "before use; greenauto.load_model reads them). A pickle from an older greenauto is read "
    "only with --allow-pickle: loading a pickle runs code from the file, so only for files "
    "you trust."
)
PICKLE_WARNING = (
    "greenauto: warning: {path!r} is a pickle, loaded because of --allow-pickle: a pickle "
    "runs code from the file; load only files you trust, and save the model again with "
    "'greenauto fit --model' to get the safe format.\n"
)
OBJECTIVES = tuple(_OBJECTIVE_METRICS)


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``greenauto: error: ...``."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see '{self.prog} --help')", 2)


def _fail(message: str, code: int) -> NoReturn:
    one_line = " ".join(str(message).split())
    sys.stderr.write(f"greenauto: error: {one_line}\n")
    sys.exit(code)


# --------------------------------------------------------------------------- argument types
def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


# --------------------------------------------------------------------------- the parser
def build_parser() -> argparse.ArgumentParser:
    """The ``greenauto`` argument parser with its four commands."""
    parser = _Parser(
        prog="greenauto",
        description="Green AutoML for tabular classification: search accurate models that "
        "spend little energy, and report what they cost.",
        epilog=PICKLE_NOTE,
    )
    from greenauto import __version__

    parser.add_argument("--version", action="version", version=f"greenauto {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    _add_fit(commands)
    _add_worker(commands)
    _add_report(commands)
    _add_predict(commands)
    sub = commands.add_parser("datasets", help="list the bundled datasets")
    sub.set_defaults(func=_run_datasets)
    return parser


def _add_fit(commands: Any) -> None:
    sub = commands.add_parser(
        "fit",
        help="search models on a CSV file or a bundled dataset",
        description="Run the multi-objective search (score against energy) on DATA and "
        "write the report(s) and the model.",
        epilog=PICKLE_NOTE,
    )
    _add_data(sub)
    sub.add_argument(
        "--time-budget",
        type=_positive_float,
        metavar="S",
        help="seconds for the whole fit (default: 60, unless --n-trials or --energy-budget "
        "is given)",
    )
    sub.add_argument("--n-trials", type=_positive_int, metavar="N", help="trials to run")
    sub.add_argument(
        "--energy-budget", type=_positive_float, metavar="J", help="joules the search may spend"
    )
    _add_search_settings(sub)
    sub.add_argument(
        "--max-score-drop",
        type=_fraction,
        default=DEFAULT_MAX_SCORE_DROP,
        metavar="D",
        help="the default pick may score this much below the best (default: %(default)s)",
    )
    sub.add_argument(
        "--country", metavar="ISO3", help="grid country (e.g. FRA): track the search's CO2"
    )
    sub.add_argument("--region", help="region within the country, where data exists")
    sub.add_argument(
        "--handle-unknown",
        choices=("error", "missing"),
        default="error",
        help="a category 'predict' meets that fit never saw: an error, or a missing value "
        "(kept in the model; default: error)",
    )
    sub.add_argument(
        "--trial-timeout",
        type=_positive_float,
        metavar="S",
        help="seconds one trial may run; a slower trial is stopped and recorded failed",
    )
    sub.add_argument(
        "--report",
        action="append",
        default=[],
        metavar="PATH",
        help="write the report; format by suffix .html/.json/.csv/.md (repeatable)",
    )
    sub.add_argument(
        "--model",
        metavar="PATH",
        help="save the fitted model (pickle-free; with the search's report inside)",
    )
    _add_study(sub, required=False)
    sub.add_argument(
        "--n-workers",
        type=_positive_int,
        default=1,
        metavar="K",
        help="worker processes running trials in parallel on this machine (default: 1)",
    )
    sub.add_argument("--quiet", action="store_true", help="no progress and no summary")
    sub.set_defaults(func=_run_fit)


def _add_allow_pickle(sub: Any) -> None:
    sub.add_argument(
        "--allow-pickle",
        action="store_true",
        help="also read a pickled model (runs code from the file: only for files you trust)",
    )


def _add_data(sub: Any) -> None:
    sub.add_argument("data", metavar="DATA", help="a CSV file, or a bundled dataset's name")
    sub.add_argument(
        "--target", default="target", help="the class column of a CSV file (default: target)"
    )
    _add_encoding(sub)


def _add_encoding(sub: Any) -> None:
    sub.add_argument(
        "--encoding",
        default="utf-8",
        metavar="NAME",
        help="text encoding of the CSV file (default: utf-8; e.g. latin-1, cp1252)",
    )


def _add_search_settings(sub: Any) -> None:
    """The settings a worker must share with the fit whose study it joins."""
    sub.add_argument(
        "--objectives",
        nargs="+",
        choices=OBJECTIVES,
        default=["score", "inference_energy"],
        metavar="OBJ",
        help=f"what to optimise, 'score' and one or more costs from {', '.join(OBJECTIVES[1:])}"
        " (default: score inference_energy)",
    )
    sub.add_argument(
        "--energy-meter",
        choices=METER_KINDS,
        default="cpu-time",
        help="per-trial meter (default: cpu-time, calibrated)",
    )
    sub.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")


def _add_study(sub: Any, *, required: bool) -> None:
    sub.add_argument(
        "--storage",
        required=required,
        metavar="URL",
        help="Optuna storage: a URL (sqlite:///search.db, postgresql://user:pw@host/db) or a "
        "journal file path",
    )
    sub.add_argument("--study", required=required, metavar="NAME", help="the study's name")


def _add_worker(commands: Any) -> None:
    sub = commands.add_parser(
        "worker",
        help="join a study from any machine and run its trials",
        description="Join the study NAME in the storage URL and run trials until the "
        "study's search (the fit that records its budgets) is spent, or this worker's own "
        "--time-budget / --n-trials. DATA, --target, --objectives, --energy-meter and "
        "--seed must be the fit's: a study run on other data or settings is refused. The "
        "worker refits nothing; the fit that started the study does.",
    )
    _add_data(sub)
    _add_study(sub, required=True)
    sub.add_argument(
        "--time-budget", type=_positive_float, metavar="S", help="seconds this worker may run"
    )
    sub.add_argument("--n-trials", type=_positive_int, metavar="N", help="trials this worker runs")
    _add_search_settings(sub)
    sub.add_argument(
        "--heartbeat",
        type=_positive_int,
        default=20,
        metavar="S",
        help="heartbeat interval of a URL storage: a trial of a worker silent for 3 "
        "heartbeats is failed and retried once (default: 20)",
    )
    sub.add_argument("--quiet", action="store_true", help="no progress and no summary")
    sub.set_defaults(func=_run_worker)


def _add_report(commands: Any) -> None:
    sub = commands.add_parser(
        "report",
        help="write the report of a saved model or a saved front",
        description="Write the Pareto report of a saved search. INPUT is a model file saved "
        "by 'greenauto fit --model', a JSON report written by 'greenauto fit "
        "--report x.json' (both give the full report), or a JSON Pareto front "
        "(ParetoFront.to_json; trials, totals and dataset are then 'not recorded').",
        epilog=PICKLE_NOTE,
    )
    sub.add_argument("input", metavar="INPUT", help="model file or JSON front/report")
    _add_allow_pickle(sub)
    sub.add_argument(
        "--out",
        action="append",
        required=True,
        metavar="PATH",
        help="report file; format by suffix .html/.json/.csv/.md (repeatable)",
    )
    sub.add_argument("--title", help="title of the report")
    sub.set_defaults(func=_run_report)


def _add_predict(commands: Any) -> None:
    sub = commands.add_parser(
        "predict",
        help="predict the classes of a CSV file with a saved model",
        description="Predict with the default pick of a saved model; writes one column "
        "'prediction' per input row. DATA needs the columns the model was fitted on (by "
        "name); other columns, such as the labels, are ignored.",
        epilog=PICKLE_NOTE,
    )
    sub.add_argument("model", metavar="MODEL", help="model file saved by 'greenauto fit'")
    _add_allow_pickle(sub)
    sub.add_argument("data", metavar="DATA", help="CSV file with the training columns")
    _add_encoding(sub)
    sub.add_argument("--out", required=True, metavar="PATH", help="CSV file to write")
    sub.set_defaults(func=_run_predict)


# --------------------------------------------------------------------------- commands
def _run_datasets(args: argparse.Namespace, out: TextIO) -> int:
    from greenauto.datasets import list_datasets

    table = list_datasets()
    cols = [c for c in ("rows", "features", "classes", "missing_values") if c in table.columns]
    out.write(table[cols].to_string() + "\n")
    return 0


def _load_data(spec: str, target: str, encoding: str = "utf-8") -> tuple[Any, Any, str]:
    """X, y and a label from a CSV path or a bundled dataset's name."""
    from greenauto.datasets import list_datasets, load_csv, load_dataset

    path = Path(spec)
    if path.is_file():
        return (*load_csv(path, target=target, encoding=encoding), str(path))
    names = list(list_datasets().index)
    if spec in names:
        return (*load_dataset(spec), spec)
    if path.suffix or "/" in spec:
        raise UsageError(f"No such data file: {spec!r}.")
    raise UsageError(f"{spec!r} is neither a file nor a bundled dataset ({', '.join(names)}).")


def _run_fit(args: argparse.Namespace, out: TextIO) -> int:
    from greenauto import GreenAutoClassifier
    from greenauto.report import FORMATS

    for report in args.report:  # fail before a long search, not after it
        if Path(report).suffix.lower() not in FORMATS:
            raise UsageError(
                f"--report {report!r}: the suffix must be one of {', '.join(FORMATS)}."
            )
    _check_outputs(("--report", args.report), ("--model", [args.model] if args.model else []))
    X, y, label = _load_data(args.data, args.target, args.encoding)
    time_budget = args.time_budget
    if time_budget is None and args.n_trials is None and args.energy_budget is None:
        time_budget = 60.0
    progress = None if args.quiet else Progress(sys.stderr, args.n_trials)
    est = GreenAutoClassifier(
        time_budget=time_budget,
        n_trials=args.n_trials,
        energy_budget=args.energy_budget,
        objectives=tuple(args.objectives),
        max_score_drop=args.max_score_drop,
        energy_meter=args.energy_meter,
        country_iso_code=args.country,
        region=args.region,
        random_state=args.seed,
        storage=args.storage,
        study_name=args.study,
        n_workers=args.n_workers,
        handle_unknown=args.handle_unknown,
        trial_timeout=args.trial_timeout,
        callbacks=None if progress is None else [progress],
    )
    try:
        with warnings.catch_warnings():  # Ctrl-C is said below, in one line
            warnings.filterwarnings("ignore", message="The search was interrupted")
            est.fit(X, y)
    finally:
        if progress is not None:
            progress.close()
    est.set_params(callbacks=None)  # the model file does not keep the progress display
    if not args.quiet:
        out.write(_fit_summary(est, label, X.shape) + "\n")
    if args.model:
        from greenauto.compiled import save_model
        from greenauto.report import build_report_data, report_dict

        report = report_dict(build_report_data(est.search_result_))
        save_model(est.compiled_model().with_metadata(extra={"report": report}), args.model)
        _wrote(args.model, out, args.quiet)
    _write_reports(est, args.report, out, args.quiet, title=f"greenauto report: {label}")
    if est.search_result_.totals.stop_reason.startswith("interrupted"):
        sys.stderr.write(
            "greenauto: interrupted (Ctrl-C): the outputs hold the trials finished before it "
            "(give --storage and --study to resume an interrupted search)\n"
        )
        return 130
    return 0


def _run_worker(args: argparse.Namespace, out: TextIO) -> int:
    import numpy as np

    from greenauto.preprocessing import TabularEncoder, encode_labels
    from greenauto.search import SearchSettings, resolve_storage, run_worker

    X, y, _ = _load_data(args.data, args.target, args.encoding)
    # the encoding GreenAutoClassifier.fit applies: the study's data fingerprint is on it
    Xf = TabularEncoder(handle_unknown="error").fit_transform(X)
    labels = encode_labels(y)
    y_enc = labels.transform(np.asarray(y).ravel()).astype(np.int64)
    progress = None if args.quiet else Progress(sys.stderr, args.n_trials)
    settings = SearchSettings(
        objectives=tuple(args.objectives),
        energy_meter=args.energy_meter,
        random_state=args.seed,
        storage=resolve_storage(args.storage, heartbeat_seconds=args.heartbeat),
        study_name=args.study,
        callbacks=() if progress is None else (progress,),
    )
    try:
        outcome = run_worker(
            Xf,
            y_enc,
            settings,
            labels=labels.classes_,
            time_budget=args.time_budget,
            n_trials=args.n_trials,
        )
    finally:
        if progress is not None:
            progress.close()
    if not args.quiet:
        states: dict[str, int] = {}
        for t in outcome.study.get_trials(deepcopy=False):
            states[t.state.name] = states.get(t.state.name, 0) + 1
        out.write(
            f"worker on study {args.study!r}: ran {outcome.trials_here} trial(s); stopped: "
            f"{outcome.stop_reason}; the study holds {states}\n"
        )
    return 0


def _fit_summary(est: Any, label: str, shape: tuple[int, int]) -> str:
    result, pick = est.search_result_, est.best_point_
    front, totals = result.front, result.totals
    e = front.energy_metric
    return (
        f"{label}: {shape[0]} rows x {shape[1]} columns; {len(front)} point(s) on the front; "
        f"default pick trial {pick.trial}: {front.score_metric} {pick[front.score_metric]:.4f},"
        f" {e} {pick[e]:.4g} ({pick.description}); search {totals.wall_seconds:.1f} s, "
        f"{totals.energy_j:.4g} J ({totals.energy_source}); stopped: {totals.stop_reason}"
    )


def _check_outputs(*options: tuple[str, Sequence[str]]) -> None:
    """Every output path writable, before any work (a search's result is never lost to a
    missing folder)."""
    from greenauto._files import check_writable

    for option, paths in options:
        for path in paths:
            try:
                check_writable(path, option)
            except OSError as exc:
                raise UsageError(str(exc)) from None


def _wrote(path: str, out: TextIO, quiet: bool) -> None:
    if not quiet:
        out.write(f"wrote {path} ({Path(path).stat().st_size / 1024:.1f} KiB)\n")


def _write_reports(obj: Any, paths: Sequence[str], out: TextIO, quiet: bool, **kw: Any) -> None:
    from greenauto.report import export_report

    for path in paths:
        export_report(obj, path, **kw)
        _wrote(path, out, quiet)


def _load_model(path: str, allow_pickle: bool = False) -> Any:
    """A CompiledPipeline from a model file; a pickled estimator only with allow_pickle."""
    from greenauto.compiled import InvalidModelError, load_model

    if not Path(path).is_file():
        raise UsageError(f"No such model file: {path!r}.")
    with open(path, "rb") as fh:
        is_zip = fh.read(4) == b"PK\x03\x04"
    if is_zip or not allow_pickle:
        try:
            return load_model(path)
        except InvalidModelError as exc:
            hint = "" if is_zip else " (a pickle from an older greenauto: --allow-pickle reads it)"
            raise UsageError(f"{path!r} is not a greenauto model file: {exc}{hint}") from None
    sys.stderr.write(PICKLE_WARNING.format(path=path))
    try:
        with open(path, "rb") as fh:
            model = pickle.load(fh)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise UsageError(f"{path!r} is not a greenauto model file ({exc}).") from None
    if not hasattr(model, "pareto_front_") or not hasattr(model, "predict"):
        raise UsageError(f"{path!r} holds a {type(model).__name__}, not a fitted greenauto model.")
    return model


def _report_of(model: Any, path: str) -> Any:
    """What a model file can report: the search report kept inside, or a pickled estimator."""
    from greenauto.compiled import CompiledPipeline
    from greenauto.report import report_data_from_dict

    if not isinstance(model, CompiledPipeline):
        return model
    report = model.ir.extra.get("report")
    if not isinstance(report, dict):
        raise UsageError(f"{path!r} holds a model but no search report to render.")
    return report_data_from_dict(report)


def _load_json(path: str) -> Any:
    """A JSON report (as ReportData) or a bare Pareto front."""
    from greenauto.pareto import ParetoFront
    from greenauto.report import REPORT_SCHEMA, report_data_from_dict

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path!r} is not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path!r} holds no greenauto report or Pareto front.")
    try:
        if data.get("schema") == REPORT_SCHEMA:
            return report_data_from_dict(data)
        return ParetoFront.from_dict(data)
    except (KeyError, TypeError) as exc:
        raise UsageError(f"{path!r} is an incomplete greenauto file (missing {exc}).") from None


def _run_report(args: argparse.Namespace, out: TextIO) -> int:
    _check_outputs(("--out", args.out))
    if not Path(args.input).is_file():
        raise UsageError(f"No such file: {args.input!r}.")
    is_json = Path(args.input).suffix.lower() == ".json"
    if is_json:
        obj = _load_json(args.input)
    else:
        obj = _report_of(_load_model(args.input, args.allow_pickle), args.input)
    _write_reports(obj, args.out, out, False, title=args.title)
    return 0


def _run_predict(args: argparse.Namespace, out: TextIO) -> int:
    import pandas as pd

    from greenauto._files import atomic_write
    from greenauto.datasets import load_csv

    _check_outputs(("--out", [args.out]))
    model = _load_model(args.model, args.allow_pickle)
    X, _ = load_csv(args.data, target=None, encoding=args.encoding)
    schema = getattr(getattr(model, "ir", None), "schema", None)
    names = getattr(model, "feature_names_in_", None)
    if schema is not None and schema["named"]:
        names = schema["names"]
    if names is not None:
        missing = [str(n) for n in names if n not in X.columns]
        if missing:
            shown = ", ".join(map(repr, missing[:10]))
            raise UsageError(f"{args.data!r} lacks the model's column(s) {shown}.")
        X = X[list(names)]
    try:
        labels = model.predict(X)
    except ValueError as exc:  # the library's hint, in the command line's words
        hint = "Fit the model with --handle-unknown missing"
        raise UsageError(str(exc).replace("Pass handle_unknown='missing'", hint)) from None
    predictions = pd.DataFrame({"prediction": labels})
    with atomic_write(args.out, "w", encoding="utf-8", newline="") as fh:
        predictions.to_csv(fh, index=False)
    _wrote(args.out, out, False)
    return 0


# --------------------------------------------------------------------------- progress
class Progress:
    """The search's progress, driven by the estimator's ``callbacks``: a tqdm bar on a
    terminal, else one line per finished trial (for logs).

    Each update shows the trials done and how they ended, the best score, the front's size and
    the joules the search has spent, with their source.
    """

    def __init__(self, stream: TextIO, n_trials: int | None) -> None:
        self.stream, self.n_trials = stream, n_trials
        self.bar = None
        if getattr(stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(
                total=n_trials, file=stream, unit="trial", desc="search", dynamic_ncols=True
            )

    def __call__(self, record: TrialRecord, progress: SearchProgress) -> None:
        if not record.sampled:  # shown with the next sampled trial
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(self.summary(progress))
        else:
            self.stream.write(self.line(progress) + "\n")
            self.stream.flush()

    def line(self, progress: SearchProgress) -> str:
        """One line for the log: ``trial 4/10: 3 ok, 1 failed, 0 pruned; best score ...``."""
        total = f"/{self.n_trials}" if self.n_trials else ""
        variants = f" (+{progress.variants} derived)" if progress.variants else ""
        return (
            f"trial {progress.finished}{total}: {progress.complete} ok, {progress.failed} "
            f"failed, {progress.pruned} pruned{variants}; {self.summary(progress)}"
        )

    @staticmethod
    def summary(progress: SearchProgress) -> str:
        """Best score, front size, joules and time so far."""
        best = "-" if progress.best_score is None else f"{progress.best_score:.4f}"
        joules = (
            "energy not available"
            if math.isnan(progress.joules)
            else f"{progress.joules:.3g} J ({progress.energy_source})"
        )
        return (
            f"best score {best}; front {progress.front_size} point(s); {joules}; "
            f"{progress.elapsed_seconds:.1f} s"
        )

    def close(self) -> None:
        """End the bar (a no-op for line output)."""
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- entry point
def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``greenauto`` command; returns its exit code.

    Examples
    --------
    >>> from greenauto.cli import build_parser
    >>> args = build_parser().parse_args(["fit", "spambase", "--n-trials", "5", "--quiet"])
    >>> args.command, args.data, args.n_trials, args.time_budget
    ('fit', 'spambase', 5, None)
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, sys.stdout))
    except (UsageError, FileNotFoundError, PermissionError, IsADirectoryError,
            NotADirectoryError, ValueError) as exc:  # fmt: skip
        _fail(str(exc), 2)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:
        _fail(f"{type(exc).__name__}: {exc}", 1)
