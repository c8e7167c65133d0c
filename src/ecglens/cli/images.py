"""``ecglens images``: printout images made from signals (``render``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecglens.cli.app import app
from ecglens.cli.options import DataOpt, ProgressOpt, data_dir
from ecglens.progress import console

images_app = typer.Typer(
    help="Printout images made from signals: render PTB-XL records as 12-lead printouts.",
    no_args_is_help=True,
)
app.add_typer(images_app, name="images")


@images_app.command("render")
def render_command(
    out: Annotated[
        Path, typer.Option(help="Folder for images/<ecg_id>.<format>, manifest.csv, render.json.")
    ] = Path("runs/rendered-ptbxl"),
    data: DataOpt = None,
    realism: Annotated[
        float,
        typer.Option(
            help="Strength (0-2) of the printed-and-photographed look: paper tint, rotation, "
            "perspective, blur, uneven light, JPEG; 0 = clean pages."
        ),
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the realism draws (per record).")] = 0,
    image_format: Annotated[
        str, typer.Option("--format", help="png (lossless) or jpg (quality 90).")
    ] = "png",
    ecg_id: Annotated[
        list[int] | None,
        typer.Option("--ecg-id", help="Render only these records (repeat); default all."),
    ] = None,
    sampling_rate: Annotated[int, typer.Option(help="100 or 500 Hz records.")] = 100,
    progress: ProgressOpt = True,
) -> None:
    """Draw PTB-XL records as clinical printouts (3 x 4 leads + lead II rhythm strip,
    25 mm/s, 10 mm/mV, millimetre grid, 738 x 524 px like the Mendeley copies), labelled
    normal (NORM the only diagnostic superclass) or abnormal (any other superclass); writes a
    manifest (ecg_id, file, label, strat_fold). A record that cannot be read is reported in
    one line and skipped."""
    from ecglens.data.rendered import RenderConfig, render_ptbxl
    from ecglens.plot.printout import ptbxl_page

    config = RenderConfig(
        sampling_rate=sampling_rate, realism=realism, seed=seed, format=image_format
    )
    result = render_ptbxl(
        data_dir(data, "ptbxl"), out, config, ecg_id, progress=progress, draw=ptbxl_page
    )
    counts = ", ".join(f"{n} {c}" for c, n in result["per_class"].items())
    console.print(
        f"rendered {result['n_rendered']} printouts ({counts}) into {out}; "
        f"{len(result['failed'])} failed, {len(result['unlabelled'])} without a diagnostic "
        f"superclass left out; manifest: {out / 'manifest.csv'}",
        soft_wrap=True,
    )
