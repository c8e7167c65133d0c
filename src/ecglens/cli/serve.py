"""``ecglens serve``: the HTTP API and the web page (FastAPI + uvicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecglens.cli.app import app
from ecglens.cli.options import check_range


@app.command("serve")
def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback by default; there is no login).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-m",
            help="Models to load at start-up (repeat); default ecglens-mitdb-inter, "
            "ecglens-ptbxl-binary and ecglens-images-fused.",
        ),
    ] = None,
    max_upload_mb: Annotated[float, typer.Option(help="Largest upload accepted, MB.")] = 50.0,
    request_timeout: Annotated[
        float, typer.Option(help="Seconds a request may take before a 503.")
    ] = 120.0,
    max_concurrent: Annotated[int, typer.Option(help="Requests worked on at once.")] = 2,
    queue_size: Annotated[
        int, typer.Option(help="Requests that may wait; more get a 503 at once.")
    ] = 8,
    device: Annotated[str, typer.Option(help="Torch device: cpu, cuda...")] = "cpu",
    threads: Annotated[int, typer.Option(help="Torch threads per worker.")] = 1,
    demo_dir: Annotated[
        Path | None,
        typer.Option(help="Folder of demo records offered on the page (default: the repo's)."),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            help="A Host name the server answers (repeat; '*.example.org' and '*' allowed); "
            "default: 127.0.0.1, localhost, ::1 and --host (any name with --host 0.0.0.0). "
            "Other names get a 400: a page that rebinds its DNS to this server cannot use it.",
        ),
    ] = None,
    allowed_origin: Annotated[
        list[str] | None,
        typer.Option(
            help="An origin (https://ecg.example.org) whose POSTs are accepted besides the "
            "server's own, e.g. behind a proxy (repeat). Other cross-origin POSTs get a 403.",
        ),
    ] = None,
    worker_memory_mb: Annotated[
        float,
        typer.Option(help="Memory (address space, MB) one request's worker process may add; "
                     "0: no limit."),
    ] = 2048.0,
    upload_timeout: Annotated[
        float,
        typer.Option(help="Seconds to receive a request body (and 15 s without data): 408 after."),
    ] = 60.0,
    head_timeout: Annotated[
        float, typer.Option(help="Seconds to receive a request's head: 408 after.")
    ] = 10.0,
    max_connections: Annotated[
        int, typer.Option(help="Connections open at once; more get a 503.")
    ] = 256,
    max_samples: Annotated[
        int,
        typer.Option(help="Samples of one record, all signals together (at most 50,000,000); "
                     "larger records get a 422 before they are read."),
    ] = 10_000_000,
) -> None:
    """Serve the HTTP API (POST /predict, POST /explain, GET /models, GET /health; OpenAPI at
    /openapi.json) and the web page at / (upload a record, see its beats, click one to see
    why). Needs the serve extra: pip install 'ecglens\\[serve]'."""
    check_range(port, "--port", 1, 65535)
    check_range(max_upload_mb, "--max-upload-mb", 0.001, None)
    check_range(worker_memory_mb, "--worker-memory-mb", 0, None)
    check_range(upload_timeout, "--upload-timeout", 0.1, None)
    check_range(head_timeout, "--head-timeout", 0.1, None)
    check_range(max_connections, "--max-connections", 1, None)
    check_range(max_samples, "--max-samples", 1, 50_000_000)
    from ecglens.serve.main import check_serve_dependencies, serve

    check_serve_dependencies()
    serve(
        host=host,
        port=port,
        models=model or None,
        max_upload_mb=max_upload_mb,
        request_timeout_s=request_timeout,
        max_concurrent=max_concurrent,
        queue_size=queue_size,
        device=device,
        threads=threads,
        demo_dir=demo_dir,
        allowed_hosts=allowed_host or None,
        allowed_origins=allowed_origin or (),
        worker_memory_mb=worker_memory_mb,
        upload_timeout_s=upload_timeout,
        head_timeout_s=head_timeout,
        max_connections=max_connections,
        max_samples=max_samples,
    )
