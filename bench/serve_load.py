"""Load on the web service, on loopback only: requests/s and latency of ``POST /predict``.

Starts ``ecglens serve`` (``python -m ecglens.serve.main``) on a free 127.0.0.1 port in a
subprocess, then for each record (demo record 213, 30 minutes at 360 Hz; a 10-s 12-lead record:
PTB-XL 00002_hr from ``$ECGLENS_DATA`` when present, else a synthetic one written with wfdb) and
each number of concurrent clients (threads, each with its own httpx client, uploading the files
again and again) holds the load for ``--seconds`` and reports requests/s, p50/p99 latency, errors
(any non-200 or transport failure) and the server's memory at the start and end of the level:
the proportional set size (PSS, from /proc) of the server and its worker processes together,
shared pages counted once. The server gets ``--max-concurrent`` workers and a queue deep
enough for every client, so a 503 counts as an error here.

    python bench/serve_load.py [--seconds 60] [--clients 1 4 16] [--markdown FILE]
        [--src OTHER/src]   (serve another ecglens source tree: compare two in one session)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from _server_procs import free_port, pss_mb

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "mitdb-demo"
LEADS_12 = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def twelve_lead_record(folder: Path) -> Path:
    """A 10-s 12-lead WFDB record: PTB-XL 00002_hr when ECGLENS_DATA has it, else synthetic."""
    root = os.environ.get("ECGLENS_DATA")
    if root:
        found = Path(root) / "ptb-xl" / "records500" / "00000" / "00002_hr"
        if found.with_suffix(".hea").exists():
            return found
    import wfdb

    fs, seconds = 500, 10
    t = np.arange(fs * seconds) / fs
    beats = sum(np.exp(-0.5 * ((t - b) / 0.02) ** 2) for b in np.arange(0.4, seconds, 0.85))
    sig = np.stack([beats * (0.5 + k / 12) + 0.05 * np.sin(t + k) for k in range(12)], axis=1)
    wfdb.wrsamp(
        "syn12", fs=fs, units=["mV"] * 12, sig_name=LEADS_12, p_signal=sig, fmt=["16"] * 12,
        adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(folder),
    )  # fmt: skip
    return folder / "syn12"


def upload(base: Path) -> list[tuple[str, tuple[str, bytes]]]:
    """The multipart ``files`` of WFDB record ``base`` (.hea, .dat, .atr when present)."""
    return [
        ("files", (base.name + suffix, (base.parent / (base.name + suffix)).read_bytes()))
        for suffix in (".hea", ".dat", ".atr")
        if (base.parent / (base.name + suffix)).exists()
    ]


def start_server(
    port: int, max_concurrent: int, queue_size: int, src: Path | None = None
) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "ecglens.serve.main", "--host", "127.0.0.1", "--port", str(port),
        "--max-concurrent", str(max_concurrent), "--queue-size", str(queue_size),
        "--request-timeout", "300",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(src)} if src else None
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited: {server.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("server did not start within 60 s")


def hold(url: str, files: list, clients: int, seconds: float) -> dict:
    """``clients`` threads posting ``files`` to ``url`` for ``seconds``: latencies (s), errors."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(timeout=600) as http:
            while time.monotonic() < stop:
                start = time.monotonic()
                try:
                    response = http.post(url, files=files)
                    ok, what = response.status_code == 200, f"{response.status_code}"
                except httpx.HTTPError as exc:
                    ok, what = False, type(exc).__name__
                with lock:
                    (latencies if ok else errors).append(
                        time.monotonic() - start if ok else what
                    )

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="per level (default 60)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--max-concurrent", type=int, default=2, help="server workers")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--src", type=Path, help="serve this ecglens source tree instead")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or min(args.clients) < 1:
        parser.error("--seconds and --clients must be positive")
    port = free_port()
    server = start_server(port, args.max_concurrent, queue_size=max(args.clients), src=args.src)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            records = {
                "213 (30 min, 360 Hz, 2 leads)": upload(DEMO / "213"),
                "12-lead, 10 s": upload(twelve_lead_record(Path(tmp))),
            }
            url = f"http://127.0.0.1:{port}/predict"
            rss_first = pss_mb(server.pid)
            for name, files in records.items():
                warm = httpx.post(url, files=files, timeout=600)
                if warm.status_code != 200:
                    raise RuntimeError(f"{name}: {warm.status_code} {warm.text}")
                for clients in args.clients:
                    before = pss_mb(server.pid)
                    result = hold(url, files, clients, args.seconds)
                    after = pss_mb(server.pid)
                    lat = np.array(result["latencies"]) * 1000
                    n = len(lat)
                    row = {
                        "record": name,
                        "clients": clients,
                        "requests": n,
                        "req/s": n / result["elapsed"],
                        "p50 ms": float(np.percentile(lat, 50)) if n else float("nan"),
                        "p99 ms": float(np.percentile(lat, 99)) if n else float("nan"),
                        "errors": len(result["errors"]),
                        "RSS start MB": before,
                        "RSS end MB": after,
                    }
                    rows.append(row)
                    print(f"{name}, {clients} clients: {n} requests, {row['req/s']:.2f}/s, "
                          f"p50 {row['p50 ms']:.0f} ms, p99 {row['p99 ms']:.0f} ms, "
                          f"{row['errors']} errors {sorted(set(result['errors']))}, "
                          f"RSS {before:.0f} -> {after:.0f} MB", flush=True)
            rss_last = pss_mb(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    lines = [
        f"`python bench/serve_load.py --seconds {args.seconds:g}`: {args.seconds:g} s per level, "
        f"server with {args.max_concurrent} workers, loopback; server PSS {rss_first:.0f} MB "
        f"after start-up, {rss_last:.0f} MB at the end.",
        "",
        "| record | clients | requests | req/s | p50 ms | p99 ms | errors | PSS start MB "
        "| PSS end MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['record']} | {r['clients']} | {r['requests']} | {r['req/s']:.2f} | "
            f"{r['p50 ms']:.0f} | {r['p99 ms']:.0f} | {r['errors']} | {r['RSS start MB']:.0f} | "
            f"{r['RSS end MB']:.0f} |"
        )
    table = "\n".join(lines)
    print()
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
