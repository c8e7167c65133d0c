"""Run the web service: ``serve(host, port, models)`` starts uvicorn on the app of
:func:`ecglens.serve.app.create_app` (``ecglens serve``; also ``python -m ecglens.serve.main``)."""

from __future__ import annotations

import argparse
import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path

from ecglens.errors import EcgLensError

EXTRA = "pip install 'ecglens[serve]'"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
ANY_ADDRESS = ("0.0.0.0", "::", "")

log = logging.getLogger("ecglens.serve")


def check_serve_dependencies() -> None:
    """Raise :class:`EcgLensError` naming what is missing when fastapi, uvicorn or
    python-multipart is not installed (cheap: nothing is imported)."""
    wanted = {"fastapi": "fastapi", "uvicorn": "uvicorn", "python_multipart": "python-multipart"}
    missing = [pkg for module, pkg in wanted.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise EcgLensError(
            f"ecglens serve needs {', '.join(missing)}: install the extra: {EXTRA}"
        )


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    models: Sequence[str] | None = None,
    max_upload_mb: float = 50,
    request_timeout_s: float = 120,
    max_concurrent: int = 2,
    queue_size: int = 8,
    device: str = "cpu",
    threads: int | None = 1,
    demo_dir: str | Path | None = None,
    log_level: str = "info",
    allowed_hosts: Sequence[str] | None = None,
    allowed_origins: Sequence[str] = (),
    worker_memory_mb: float | None = None,
    upload_timeout_s: float = 60.0,
    head_timeout_s: float = 10.0,
    max_connections: int = 256,
    max_samples: int | None = None,
) -> None:
    """Load ``models`` (default: the beat, the 12-lead binary and the fused printout model)
    and serve the API and web page on ``host``:``port`` until interrupted.

    host: loopback by default (any other address lets whoever reaches it upload records);
    max_upload_mb: largest request body (MB); request_timeout_s: limit per request (s);
    max_concurrent / queue_size: requests worked on at once / waiting (503 beyond);
    threads: torch threads; demo_dir: folder of demo WFDB records (default: the repository's
    data/mitdb-demo when present); allowed_hosts: Host names answered (default: the loopback
    names and ``host``; any name when listening on every address); allowed_origins: origins
    besides the server's own whose POSTs are accepted (a proxy's public origin);
    worker_memory_mb: address space a request's worker may add (MB; 0: no limit);
    upload_timeout_s: seconds to receive a request body (408 after; and 15 s without data);
    head_timeout_s: seconds to receive a request's head; max_connections: open at once (503
    beyond); max_samples: samples of a record, all signals (default 10M; at most 50M).
    """
    check_serve_dependencies()
    if not 0 < port < 65536:
        raise EcgLensError(f"--port must be in 1-65535, not {port}")
    import uvicorn

    from ecglens.serve.app import (
        DEFAULT_MAX_SAMPLES,
        DEFAULT_MODELS,
        DEFAULT_WORKER_MEMORY_MB,
        DEMO_DIR,
        create_app,
    )
    from ecglens.serve.protocol import protocol_class

    for name, value in (("upload timeout", upload_timeout_s), ("head timeout", head_timeout_s)):
        if not value > 0:
            raise EcgLensError(f"{name} must be positive, not {value:g}")
    if max_connections < 1:
        raise EcgLensError(f"max connections must be >= 1, not {max_connections}")
    hosts = list(allowed_hosts or default_hosts(host))

    logging.basicConfig(level=log_level.upper(), format="%(levelname)s: %(name)s: %(message)s")
    if host not in LOOPBACK:
        log.warning("listening on %s, not loopback: anyone who can reach it can upload records "
                    "(there is no authentication)", host)
    if "*" in hosts:
        log.warning("answering requests for any host name: give --allowed-host NAME (the names "
                    "clients use) to refuse DNS-rebinding pages")
    app = create_app(
        list(models or DEFAULT_MODELS),
        max_upload_mb=max_upload_mb,
        request_timeout_s=request_timeout_s,
        max_concurrent=max_concurrent,
        queue_size=queue_size,
        device=device,
        torch_threads=threads,
        demo_dir=DEMO_DIR if demo_dir is None else demo_dir,
        worker_memory_mb=DEFAULT_WORKER_MEMORY_MB if worker_memory_mb is None else worker_memory_mb,
        allowed_hosts=hosts,
        allowed_origins=list(allowed_origins),
        upload_timeout_s=upload_timeout_s,
        max_samples=DEFAULT_MAX_SAMPLES if max_samples is None else max_samples,
    )
    log.info("models loaded: %s; open http://%s:%d/", ", ".join(app.state.service.models),
             host if ":" not in host else f"[{host}]", port)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        workers=1,
        http=protocol_class(head_timeout_s, max_connections),
        timeout_keep_alive=5,
    )


def default_hosts(host: str) -> list[str]:
    """The Host names a server listening on ``host`` answers by default: the loopback names
    and ``host``; any (``*``) when it listens on every address."""
    if host in ANY_ADDRESS:
        return ["*"]
    return list(dict.fromkeys([*LOOPBACK, host.strip("[]")]))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ecglens.serve.main [--host H] [--port P] [--model NAME]...``"""
    parser = argparse.ArgumentParser(prog="ecglens serve", description=serve.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", action="append", dest="models", help="repeat for several")
    parser.add_argument("--max-upload-mb", type=float, default=50)
    parser.add_argument("--request-timeout", type=float, default=120, help="seconds")
    parser.add_argument("--max-concurrent", type=int, default=2)
    parser.add_argument("--queue-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--demo-dir", type=Path, default=None)
    parser.add_argument("--allowed-host", action="append", dest="allowed_hosts",
                        help="a Host name to answer (repeat); default: loopback and --host")
    parser.add_argument("--allowed-origin", action="append", dest="allowed_origins", default=[],
                        help="an origin whose POSTs are accepted besides the server's (repeat)")
    parser.add_argument("--worker-memory-mb", type=float, default=None)
    parser.add_argument("--upload-timeout", type=float, default=60.0, help="seconds")
    parser.add_argument("--head-timeout", type=float, default=10.0, help="seconds")
    parser.add_argument("--max-connections", type=int, default=256)
    parser.add_argument("--max-samples", type=int, default=None)
    parser.add_argument("--log-level", default="info",
                        choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    try:
        serve(
            args.host,
            args.port,
            args.models,
            max_upload_mb=args.max_upload_mb,
            request_timeout_s=args.request_timeout,
            max_concurrent=args.max_concurrent,
            queue_size=args.queue_size,
            device=args.device,
            threads=args.threads,
            demo_dir=args.demo_dir,
            allowed_hosts=args.allowed_hosts,
            allowed_origins=args.allowed_origins,
            worker_memory_mb=args.worker_memory_mb,
            upload_timeout_s=args.upload_timeout,
            head_timeout_s=args.head_timeout,
            max_connections=args.max_connections,
            log_level=args.log_level,
            max_samples=args.max_samples,
        )
    except EcgLensError as exc:
        print(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
