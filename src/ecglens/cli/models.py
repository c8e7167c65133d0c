"""``ecglens models``: the shipped models and the registered architectures."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ecglens.cli.app import app
from ecglens.cli.tables import model_summary, stdout


@app.command("models")
def models_command(
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table.")
    ] = False,
) -> None:
    """List shipped models (with their test metrics) and registered architectures."""
    from ecglens.models.registry import list_models, list_pretrained, load_model

    rows = [model_summary(name, load_model(name).config) for name in list_pretrained()]
    if json_out:
        print(json.dumps({"pretrained": rows, "architectures": list_models()}, indent=2))
        return
    table = Table(title="Shipped models")
    for col in ("name", "architecture", "task", "split", "test metrics"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["architecture"], r["task"], r["split"], r["summary"])
    stdout.print(table)
    stdout.print("Architectures: " + ", ".join(list_models()))

