"""The typer application that every command group registers its commands on."""

import typer

app = typer.Typer(
    help="ecglens: classify electrocardiograms and show why (beats, Grad-CAM, reports).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
