"""The task table: everything the front ends do with each kind of prediction.

:func:`ecglens.predict.run` turns an input into a prediction; this table says, for each kind
of prediction (beats of a record, a 12-lead record, an MI record, a printout image, the rows
of a CSV of beats), how to print it for people, explain it, draw its explanation, put it in
an HTML report, in Parquet rows and on the web page. The CLI, the web server and batch
inference look hooks up here (:func:`view_of`) instead of branching on task names; adding a
task is one :class:`TaskView` here plus its classifier in :mod:`ecglens.predict.tasks`.

This layer sits above report (it imports plot and report directly) and below the front ends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecglens.errors import EcgLensError
from ecglens.explain.recommended import model_explainers
from ecglens.models.registry import LoadedModel
from ecglens.plot.explain12 import plot_12lead_explanation
from ecglens.plot.explain_beats import plot_beat_explanation, plot_mi_explanation
from ecglens.plot.images import plot_image_explanation
from ecglens.predict.beat_rows import BeatRowPredictions
from ecglens.predict.beats import BeatPredictions
from ecglens.predict.images import IMAGE_TASK, ImagePrediction
from ecglens.predict.mi import MI_TASK, MiPrediction
from ecglens.predict.run import LongRecordPrediction, Prediction, run
from ecglens.predict.tasks import task_of
from ecglens.predict.twelve_lead import TWELVE_LEAD_TASKS, Prediction12
from ecglens.report import beat_rows as beat_rows_report
from ecglens.report import beats as beat_report
from ecglens.report import console as tables
from ecglens.report import images as image_report
from ecglens.report import mi as mi_report
from ecglens.report import ptbxl as twelve_lead_report
from ecglens.report.build import Failed, ReportKind, build_report
from ecglens.tasks import rows, web


@dataclass(frozen=True)
class TaskView:
    """The hooks of one kind of prediction.

    name: what it is, for messages; result: the prediction class it shows; tasks: the model
    tasks (``ecglens.predict.tasks``) whose records it shows (none: it follows the input,
    e.g. a CSV of beats); table: ``(prediction, max_rows) -> None`` prints it for people;
    figure: its explanation figure ``(prediction, loaded, method, device, beats, layer) ->
    Figure`` (None: not explained); report: the :class:`~ecglens.report.build.ReportKind`
    whose sections make its HTML report (None: none); rows: ``(prediction, path, record) ->
    (pyarrow.Table, n_beats)`` for Parquet; web: ``(prediction, loaded, figure, beats, method,
    chosen, device) -> (fields, figure)``, the web page's explanation (None: not explained
    there; see :mod:`ecglens.tasks.web`).
    """

    name: str
    result: type
    tasks: tuple[str, ...]
    table: Callable[[Any, int], None]
    figure: Callable[..., Any] | None
    report: ReportKind | None
    rows: Callable[[Any, str, str], tuple[Any, int]]
    web: Callable[..., tuple[dict[str, Any], Any]] | None


VIEWS: tuple[TaskView, ...] = (
    TaskView(
        "beat predictions", BeatPredictions, ("beats", "kaggle-ptb"), tables.print_beats,
        plot_beat_explanation, beat_report, rows.beat_rows, web.explain_beats_web,
    ),
    TaskView(
        "12-lead predictions", Prediction12, TWELVE_LEAD_TASKS,
        tables.print_12lead_prediction, plot_12lead_explanation, twelve_lead_report,
        rows.record_row, web.explain_12lead_web,
    ),
    TaskView(
        "MI predictions", MiPrediction, (MI_TASK,), tables.print_mi_prediction,
        plot_mi_explanation, mi_report, rows.record_row, web.explain_beats_web,
    ),
    TaskView(
        "printout predictions", ImagePrediction, (IMAGE_TASK,),
        tables.print_image_prediction, plot_image_explanation, image_report, rows.record_row,
        web.explain_page_web,
    ),
    TaskView(
        "rows of a CSV of beats", BeatRowPredictions, (), tables.print_beat_rows, None,
        beat_rows_report, rows.record_row, None,
    ),
    TaskView(
        "long recordings", LongRecordPrediction, (), tables.print_long_record, None, None,
        rows.record_row, None,
    ),
)  # fmt: skip


def view_of(prediction: Prediction | Any) -> TaskView:
    """The view of a prediction (a :class:`~ecglens.predict.run.Prediction` or its result)."""
    result = prediction.result if isinstance(prediction, Prediction) else prediction
    for view in VIEWS:
        if isinstance(result, view.result):
            return view
    raise EcgLensError(f"no view of {type(result).__name__} predictions")


def view_of_model(loaded: LoadedModel) -> TaskView:
    """The view of the records ``loaded`` classifies (by its task)."""
    task = task_of(loaded).name
    for view in VIEWS:
        if task in view.tasks:
            return view
    raise EcgLensError(f"model {loaded.name}: no view of task {task!r}")


def explainers_of(loaded: LoadedModel) -> tuple[str, ...]:
    """The explainers that apply to ``loaded``'s predictions; the first is the fallback."""
    return model_explainers(loaded)


def report(
    sources: Sequence[str | Path],
    loaded: LoadedModel,
    out: str | Path,
    *,
    device: Any = "cpu",
    fs: float | None = None,
    units: str | None = None,
    lead: str | int | None = None,
    metrics: Sequence[dict[str, Any]] = (),
    progress: bool = True,
    command: str = "",
    errors: list[str] | None = None,
) -> Path:
    """Classify ``sources`` (any input kind :func:`~ecglens.predict.run` reads; long records
    are read whole) and write one HTML report with ``loaded``'s sections; a source that
    fails gets its one-line error in the report and in ``errors`` (raised when ``errors``
    is None)."""
    from ecglens.progress import track

    predictions: list[Any] = []
    for source in track(list(sources), "Report: classifying", enabled=progress):
        try:
            prediction = run(
                source, loaded, device=device, fs=fs, units=units, lead=lead,
                long_record_s=float("inf"),
            )
            predictions.append(prediction.result)
        except EcgLensError as exc:
            if errors is None:
                raise
            predictions.append(Failed(Path(source).name, str(exc)))
    return build_report(
        predictions, loaded, out, view_of_model(loaded).report, device=device,
        record_section=_record_section, metrics=metrics, progress=progress, command=command,
        errors=errors,
    )  # fmt: skip


def _record_section(prediction: Any, loaded: LoadedModel, device: Any) -> Any:
    """The report section of one prediction, by its own view (a CSV of beats classified by a
    beat model gets the CSV section, not a record's)."""
    view = view_of(prediction)
    if view.report is None:
        raise EcgLensError(f"no HTML report of {view.name}")
    return view.report.record_section(prediction, loaded, device)
