"""``ecglens predict``, ``explain`` and ``report``: records in, predictions, figures and HTML
out. Each dispatches on the model's task (:mod:`ecglens.predict.tasks`)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from ecglens.cli.app import app
from ecglens.cli.options import (
    DeviceOpt,
    FsOpt,
    InputModelOpt,
    LeadOpt,
    ProgressOpt,
    RecordsArg,
    StrictOpt,
    ThreadsOpt,
    UnitsOpt,
    check_output_file,
    check_range,
    check_records_exist,
    command_line,
    device_of,
    exit_if_any_failed,
    expand_records,
    run_each,
)
from ecglens.explain.explainers import methods_help
from ecglens.progress import console


@app.command("predict")
def predict_command(
    records: RecordsArg,
    model: InputModelOpt = None,
    json_file: Annotated[
        Path | None,
        typer.Option(
            "--json", help="Write predictions as JSON (one record) or JSON Lines (several)."
        ),
    ] = None,
    lead: LeadOpt = None,
    fs: FsOpt = None,
    units: UnitsOpt = None,
    table: Annotated[bool, typer.Option(help="Print the per-beat table.")] = True,
    max_rows: Annotated[
        int, typer.Option(help="At most this many beats in the printed table.")
    ] = 40,
    review_threshold: Annotated[
        float | None,
        typer.Option(
            help="Beat models: flag beats whose uncertainty (normalised predictive entropy, "
            '0-1) exceeds this for human review; the JSON gets "review": true on them.'
        ),
    ] = None,
    mc_samples: Annotated[
        int | None,
        typer.Option(
            help="Beat models: MC-dropout passes for the uncertainty score (default: the "
            "model's setting; 0 = one deterministic pass, uncertainty from its softmax entropy)."
        ),
    ] = None,
    strict: StrictOpt = False,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Classify one or more records: every beat (beat models, with calibrated probabilities
    and an uncertainty score), the whole record (12-lead and MI models), or every row of a
    Kaggle-style CSV of beats (187 values [+ label] a row); print a table."""
    paths = expand_records(records)  # checked before torch and scipy load: fails fast
    check_records_exist(paths)
    check_output_file(json_file, "--json")
    check_range(review_threshold, "--review-threshold", 0.0, 1.0)
    check_range(mc_samples, "--mc-samples", 0, None)
    from ecglens.predict import run
    from ecglens.tasks import view_of

    dev = device_of(device, threads)
    models = ModelsForInputs(model, dev, fs, units)
    stream_dir = Path(tempfile.mkdtemp(prefix="ecglens-predict-"))
    given = {"lead": lead, "mc_samples": mc_samples, "review_threshold": review_threshold}

    def predict_one(path: Path) -> dict:
        loaded, beside = models.for_input(path)
        options = given if model is not None else models.options_for(loaded, given)
        prediction = run(path, loaded, device=dev, fs=fs, strict=strict, units=units, **options)
        for note in prediction.notes:
            console.print(f"{path}: {note}", highlight=False, soft_wrap=True)
        if prediction.streamed:  # a long record: its JSON goes to a file, window by window
            part = stream_dir / f"{len(list(stream_dir.iterdir()))}.json"
            with part.open("w", encoding="utf-8") as f:
                prediction.result.write_json(f)
            out = {"record": prediction.record, STREAMED: str(part)}
        else:
            out = prediction.to_dict()
        if table:
            view_of(prediction).table(prediction.result, max_rows)
        for warning in prediction.warnings:
            console.print(f"[yellow]warning:[/yellow] {path}: {warning}", highlight=False)
        if beside is not None:  # a 12-lead record: the beat model's prediction beside it
            beats = run(path, beside, device=dev, fs=fs, strict=strict, units=units,
                        long_record_s=float("inf"), **models.options_for(beside, given))
            console.print(f"{path}: beats of lead {beats.result.lead} by {beside.name}",
                          highlight=False)
            if table:
                view_of(beats).table(beats.result, max_rows)
            out["beats_model"] = beats.to_dict()
        return out

    try:
        results = run_each(paths, predict_one, "Classifying records", progress)
        if json_file is not None:
            from ecglens._atomic import atomic_write

            atomic_write(json_file, lambda tmp: _write_results(tmp, results, json_file))
            console.print(f"wrote {json_file}")
    finally:
        shutil.rmtree(stream_dir, ignore_errors=True)
    exit_if_any_failed(results)


STREAMED = "__streamed_json__"  # a result whose JSON was streamed to this file


def _write_results(tmp: Path, results: list[dict], json_file: Path) -> None:
    """One indented JSON object for one record (not for .jsonl), else JSON Lines; streamed
    results are copied from their files, never loaded whole."""
    with tmp.open("w", encoding="utf-8") as f:
        for r in results:
            if STREAMED in r:
                with open(r[STREAMED], encoding="utf-8") as part:
                    shutil.copyfileobj(part, f)
                f.write("\n")
            elif len(results) == 1 and json_file.suffix != ".jsonl":
                f.write(json.dumps(r, indent=1) + "\n")
            else:
                f.write(json.dumps(r) + "\n")


@app.command("explain")
def explain_command(
    record: Annotated[Path, typer.Argument(help="A WFDB record or CSV/NPY sample file.")],
    beat: Annotated[
        list[int] | None,
        typer.Option(
            help="0-based beat index as listed by `ecglens predict` (repeat for several); "
            "beat models only."
        ),
    ] = None,
    model: InputModelOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="PNG to write (default runs/explain/<record>-beat<N>.png, or "
            "<record>-<method>.png for 12-lead models)."
        ),
    ] = None,
    layer: Annotated[
        str | None,
        typer.Option(help="Beat models: conv layer for Grad-CAM (default: the last one)."),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            help=methods_help()
        ),
    ] = None,
    lead: LeadOpt = None,
    fs: FsOpt = None,
    units: UnitsOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
) -> None:
    """Draw beats with their relevance for the predicted class (PNG); for 12-lead models, the
    record on ECG paper with its CAM / Grad-CAM."""
    from ecglens.errors import EcgLensError
    from ecglens.explain.explainers import figure_methods
    from ecglens.explain.recommended import recommended_method
    from ecglens.io.formats import record_name
    from ecglens.models.cam import outputs_cam
    from ecglens.plot.style import save_figure
    from ecglens.predict import run, task_of
    from ecglens.predict.beats import BeatPredictions
    from ecglens.tasks import view_of

    dev = device_of(device, threads)
    loaded, _ = ModelsForInputs(model, dev, fs, units).for_input(record)
    task = task_of(loaded)
    method = method or recommended_method(loaded)
    allowed = figure_methods(task.family, outputs_cam(loaded.module))
    if method not in allowed:
        raise EcgLensError(
            f"--method {method!r} does not apply to {task.description}; choose "
            f"{', '.join(allowed)}"
        )
    prediction = run(record, loaded, device=dev, fs=fs, lead=lead, long_record_s=float("inf"),
                     units=units)
    view = view_of(prediction)
    if view.figure is None:
        raise EcgLensError(f"{view.name} are not explained in figures", record)
    if not beat and isinstance(prediction.result, BeatPredictions):  # as the report does
        from ecglens.report.beats import choose_strips

        beat = [c.beat for c in choose_strips(prediction.result) if c.beat is not None] or [0]
        console.print(f"explaining beats {', '.join(map(str, beat))} (first non-N, most "
                      "uncertain); --beat to choose", highlight=False)
    fig = view.figure(prediction.result, loaded, method=method, device=dev, beats=beat,
                      layer=layer)
    if out is None:
        what = f"beat{'-'.join(map(str, beat))}" if beat else method
        out = Path("runs/explain") / f"{record_name(record)}-{what}.png"
    save_figure(fig, out)
    console.print(f"wrote {out}")


@app.command("report")
def report_command(
    records: RecordsArg,
    model: InputModelOpt = None,
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("runs/report.html"),
    lead: LeadOpt = None,
    fs: FsOpt = None,
    units: UnitsOpt = None,
    metrics_json: Annotated[
        list[Path] | None,
        typer.Option("--metrics", help="Metrics JSON files from `ecglens evaluate` to include."),
    ] = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Write one self-contained HTML report: model card, metrics, record strips, Grad-CAM
    (12-lead models: the records on ECG paper with their CAM and Grad-CAM)."""
    paths = expand_records(records)  # checked before torch and scipy load: fails fast
    check_records_exist(paths)
    check_output_file(out, "--out")
    from ecglens.tasks import report

    metrics = [json.loads(Path(p).read_text()) for p in (metrics_json or [])]
    dev = device_of(device, threads)
    loaded, _ = ModelsForInputs(model, dev, fs, units).for_input(paths[0])
    if model is None and len(paths) > 1:
        console.print(f"one report, one model: {loaded.name}, chosen by {paths[0]} (--model to "
                      "choose)", highlight=False)
    errors: list[str] = []
    path = report(
        paths,
        loaded,
        out,
        fs=fs,
        units=units,
        lead=lead,
        device=dev,
        metrics=metrics,
        progress=progress,
        command=command_line(),
        errors=errors,
    )
    for error in errors:
        console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
    console.print(f"wrote {path}")
    exit_if_any_failed([{"error": e} for e in errors] + [{}] * (len(paths) - len(errors)))


class ModelsForInputs:
    """The model for each input: ``model`` when named (refused, naming the models that fit,
    for an input it does not read), else the one the input decides
    (:func:`ecglens.tasks.choose.choose_model`); each loaded once."""

    def __init__(self, model: str | None, device, fs: float | None, units: str | None) -> None:
        self.model, self.device, self.fs, self.units = model, device, fs, units
        self._loaded: dict[str, object] = {}

    def load(self, name: str):
        from ecglens.models.registry import load_model

        if name not in self._loaded:
            self._loaded[name] = load_model(name, self.device)
        return self._loaded[name]

    def for_input(self, path: Path):
        """``(model, beside)``: the model for ``path`` and the one whose prediction goes
        beside it (the beat model for a 12-lead record; None otherwise)."""
        from ecglens.tasks.choose import (
            check_model_fits,
            choose_model,
            companion_model,
            input_shape,
        )

        if self.model is not None:
            loaded = self.load(self.model)
            check_model_fits(loaded, path, self.fs)
            return loaded, None
        shape = input_shape(path, self.fs, self.units)
        name = choose_model(shape)
        beside = companion_model(shape, name)
        return self.load(name), None if beside is None else self.load(beside)

    @staticmethod
    def options_for(loaded, given: dict) -> dict:
        """``given`` less the options ``loaded``'s task does not take (a model chosen by the
        input is not refused for an option meant for another input's model)."""
        from ecglens.predict import task_of

        return {k: v for k, v in given.items() if k in task_of(loaded).options}
