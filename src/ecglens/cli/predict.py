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
    LeadOpt,
    ModelOpt,
    ProgressOpt,
    RecordsArg,
    StrictOpt,
    ThreadsOpt,
    check_output_file,
    check_range,
    check_records_exist,
    command_line,
    device_of,
    exit_if_any_failed,
    expand_records,
    run_each,
)
from ecglens.progress import console

STANDARD_BEAT_LEADS = ("II", "MLII")  # the leads beat models are trained on
LOW_USABLE_FRACTION = 0.5  # below this share of usable signal, predict warns


@app.command("predict")
def predict_command(
    records: RecordsArg,
    model: ModelOpt = "ecglens-mitdb-inter",
    json_file: Annotated[
        Path | None,
        typer.Option(
            "--json", help="Write predictions as JSON (one record) or JSON Lines (several)."
        ),
    ] = None,
    lead: LeadOpt = None,
    fs: FsOpt = None,
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
    from ecglens.cli.tables import PREDICTION_TABLES, stdout
    from ecglens.io import read_record
    from ecglens.io.beat_csv import looks_like_beat_csv
    from ecglens.io.chunks import NotWindowed, record_info
    from ecglens.models.registry import load_model
    from ecglens.predict import classify, task_of
    from ecglens.predict.beat_rows import classify_beat_rows
    from ecglens.predict.images import classify_image
    from ecglens.predict.long import LONG_RECORD_S, long_record_dict_stream

    dev = device_of(device, threads)
    loaded = load_model(model, dev)
    task = task_of(loaded)
    stream_dir = Path(tempfile.mkdtemp(prefix="ecglens-predict-"))

    def predict_long(path: Path, info) -> dict:
        """A record longer than LONG_RECORD_S: 30-min windows, its JSON streamed to a file."""
        part = stream_dir / f"{len(list(stream_dir.iterdir()))}.json"
        pieces = long_record_dict_stream(
            info, loaded, lead=lead, fs=fs, device=dev, mc_samples=mc_samples,
            review_threshold=review_threshold, extra={"warnings": list(info.warnings)},
        )  # fmt: skip
        with part.open("w", encoding="utf-8") as f:
            f.writelines(pieces)
        if table:
            summary = json.loads(part.read_text(encoding="utf-8"))
            stdout.print(
                f"{info.name}: {summary['n_beats']} beats in {summary['windows']['n_windows']} "
                f"windows of {summary['windows']['window_s']:g} s; class counts "
                + ", ".join(f"{c} {n}" for c, n in summary["class_counts"].items())
            )
        return {"record": info.name, STREAMED: str(part)}

    def predict_one(path: Path) -> dict:
        warnings: list[str] = []
        info = None
        if task.name == "beats" and not looks_like_beat_csv(path):
            try:
                info = record_info(path, fs=fs, strict=strict)
            except NotWindowed:  # read whole, as any other record
                info = None
        if info is not None and info.duration_s > LONG_RECORD_S:
            return predict_long(path, info)
        if task.family == "image":  # a printout: the file itself is the input
            prediction, table_key = classify_image(path, loaded, device=dev), task.name
        elif looks_like_beat_csv(path):  # a Kaggle-style CSV of beats, one a row
            prediction, table_key = classify_beat_rows(path, loaded, device=dev), "beat-rows"
        else:
            record = read_record(path, fs=fs, strict=strict)
            warnings = list(record.warnings)
            if lead is None and task.family == "beats" and len(record.lead_names) > 1:
                from ecglens.io import select_lead

                used = select_lead(record)[1]
                if used.upper() not in STANDARD_BEAT_LEADS:  # say when it is not II / MLII
                    console.print(
                        f"{path}: beats of lead {used} (of {', '.join(record.lead_names)}); "
                        "--lead to choose another", highlight=False, soft_wrap=True
                    )
            options = {"lead": lead, "mc_samples": mc_samples, "review_threshold": review_threshold}
            prediction, table_key = classify(record, loaded, device=dev, **options), task.name
        if table:
            PREDICTION_TABLES[table_key](prediction, max_rows)
        quality = getattr(prediction, "quality", None)
        if quality is not None and quality.usable_fraction < LOW_USABLE_FRACTION:
            warnings.append(
                f"only {100 * quality.usable_fraction:.0f}% of the lead is readable ECG: its "
                "beats in unusable stretches are flagged as artifacts and not counted"
            )
        for warning in warnings:
            console.print(f"[yellow]warning:[/yellow] {path}: {warning}", highlight=False)
        return {**prediction.to_dict(), "warnings": warnings}

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
    model: ModelOpt = "ecglens-mitdb-inter",
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
            help="Explainer: grad-cam, saliency, smoothgrad, integrated-gradients, "
            "occlusion, shapley; 12-lead models also cam (the network's own class activation "
            "map) and both (CAM above Grad-CAM). Default: the model's recommended explainer "
            "(`ecglens benchmark explanations`; see its card). Per-lead maps on 12-lead "
            "records: saliency, smoothgrad, integrated-gradients, occlusion, shapley."
        ),
    ] = None,
    lead: LeadOpt = None,
    fs: FsOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
) -> None:
    """Draw beats with their relevance for the predicted class (PNG); for 12-lead models, the
    record on ECG paper with its CAM / Grad-CAM."""
    from ecglens.errors import EcgLensError
    from ecglens.explain.recommended import recommended_method
    from ecglens.io import read_record
    from ecglens.models.registry import load_model
    from ecglens.plot.style import save_figure
    from ecglens.predict import classify, task_of
    from ecglens.predict.tasks import resolve

    dev = device_of(device, threads)
    loaded = load_model(model, dev)
    task = task_of(loaded)
    method = method or recommended_method(loaded)
    allowed = (*task.methods, "both") if task.family == "12-lead" else task.methods
    if method not in allowed:
        raise EcgLensError(
            f"--method {method!r} does not apply to {task.description}; choose "
            f"{', '.join(allowed)}"
        )
    if task.family == "image":
        from ecglens.predict.images import classify_image

        rec_name, prediction = record.stem, classify_image(record, loaded, device=dev)
    else:
        rec = read_record(record, fs=fs)
        rec_name, prediction = rec.name, classify(rec, loaded, device=dev, lead=lead)
    figure = resolve(task.figure)
    fig = figure(prediction, loaded, method=method, device=dev, beats=beat, layer=layer)
    if out is None:
        what = f"beat{'-'.join(map(str, beat))}" if beat else method
        out = Path("runs/explain") / f"{rec_name}-{what}.png"
    save_figure(fig, out)
    console.print(f"wrote {out}")


@app.command("report")
def report_command(
    records: RecordsArg,
    model: ModelOpt = "ecglens-mitdb-inter",
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("runs/report.html"),
    lead: LeadOpt = None,
    fs: FsOpt = None,
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
    from ecglens.models.registry import load_model
    from ecglens.predict import task_of
    from ecglens.predict.tasks import resolve

    metrics = [json.loads(Path(p).read_text()) for p in (metrics_json or [])]
    dev = device_of(device, threads)
    build_report = resolve(task_of(load_model(model)).report)
    errors: list[str] = []
    path = build_report(
        paths,
        model,
        out,
        lead=lead,
        fs=fs,
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
