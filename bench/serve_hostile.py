"""Hostile requests against ``ecglens serve`` on loopback: for each, the status, the seconds to
the answer, the server's peak memory growth (proportional set size of the server and its worker
processes, sampled every 50 ms) and whether ``/health`` answered during and after.

Runs the server of the source tree ``--src`` (default: this checkout's ``src``) in a
subprocess on a free 127.0.0.1 port, so that two versions can be compared in the same run:

    python bench/serve_hostile.py [--src OTHER/src] [--request-timeout 10] [--markdown FILE]

Some of these requests take gigabytes and minutes on a server without limits: run it on a
machine with memory to spare (``--skip NAME`` leaves one out).
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
from _server_procs import free_port, pss_mb

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "mitdb-demo"
LEADS_12 = "I,II,III,AVR,AVL,AVF,V1,V2,V3,V4,V5,V6"


def start(src: Path, port: int, timeout_s: float) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "ecglens.serve.main", "--host", "127.0.0.1", "--port", str(port),
        "--request-timeout", str(timeout_s), "--max-concurrent", "2", "--queue-size", "8",
        "--demo-dir", str(DEMO),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(src)}
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("server exited at start-up")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("server did not start")


def busy_for(url: str) -> float:
    """Seconds until /health says nothing runs (at most 120)."""
    start = time.monotonic()
    while time.monotonic() - start < 120:
        try:
            state = httpx.get(f"{url}/health", timeout=5).json()
            if state.get("running", 0) == 0 and state.get("queued", 0) == 0:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return time.monotonic() - start


def measure(server: subprocess.Popen, url: str, send: Callable[[], str]) -> dict:
    """Run ``send`` (returns the status, as text); time, peak growth, /health during/after."""
    busy_for(url)
    base = pss_mb(server.pid)
    peak, done, health = [base], threading.Event(), {"ok": 0, "failed": 0}

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], pss_mb(server.pid))
            done.wait(0.05)

    def ping() -> None:
        while not done.is_set():
            try:
                ok = httpx.get(f"{url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                ok = False
            health["ok" if ok else "failed"] += 1
            done.wait(0.25)

    threads = [threading.Thread(target=watch), threading.Thread(target=ping)]
    for t in threads:
        t.start()
    started = time.monotonic()
    try:
        status = send()
    except Exception as exc:  # a reset connection is an answer too
        status = type(exc).__name__
    seconds = time.monotonic() - started
    still_busy = busy_for(url)
    done.set()
    for t in threads:
        t.join()
    try:
        after = httpx.get(f"{url}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        after = False
    return {
        "status": status,
        "seconds": seconds,
        "busy_after_s": still_busy,
        "growth_mb": peak[0] - base,
        "health_during": f"{health['ok']}/{health['ok'] + health['failed']}",
        "health_after": after,
    }


def cases(url: str, port: int, tmp: Path) -> dict[str, Callable[[], str]]:
    rng = np.random.default_rng(0)
    csv = io.StringIO()
    np.savetxt(csv, rng.standard_normal((2000, 12)), delimiter=",", header=LEADS_12,
               comments="", fmt="%.6f")
    csv_12 = csv.getvalue().encode()
    import edfio

    t = np.arange(0, 16) / 0.002
    edf_path = tmp / "slow.edf"
    edfio.Edf([edfio.EdfSignal(np.sin(t), 0.002, label="ECG", physical_dimension="mV")]).write(
        edf_path
    )
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("r.hea", "r 1 360\nr.dat 8 200 8 0 0 0 0 MLII\n")
        z.writestr("r.dat", bytes(60_000_000))
    twenty = io.BytesIO()  # 20M samples (2 x 10M, format 16, a sine: not flat)
    with zipfile.ZipFile(twenty, "w", zipfile.ZIP_DEFLATED) as z:
        n = 10_000_000
        z.writestr("b.hea", f"b 2 360 {n}\nb.dat 16 200 16 0 0 0 0 MLII\n"
                   "b.dat 16 200 16 0 0 0 0 V1\n")
        wave = (200 * np.sin(np.arange(n) * 2 * np.pi / 300)).astype("<i2")
        z.writestr("b.dat", np.repeat(wave, 2).tobytes())
    flat_edf = tmp / "flat.edf"
    edfio.Edf([edfio.EdfSignal(np.sin(np.arange(2500) / 40), 250, label="ECG",
                               physical_dimension="mV")]).write(flat_edf)
    data = bytearray(flat_edf.read_bytes())
    at = 256 + 16 + 80 + 8
    data[at + 8 : at + 16] = bytes(data[at : at + 8])
    flat = bytes(data)

    slow = {"mc_samples": "100", "beat": [str(i) for i in range(32)]}

    def post(**kw) -> str:
        r = httpx.post(f"{url}/predict", timeout=300, **kw)
        return f"{r.status_code} {r.headers.get('content-type', '')[:16]}"

    def slow_clients() -> str:
        socks = []
        try:
            for _ in range(64):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                socks.append(s)
            time.sleep(0.5)
            r = httpx.get(f"{url}/health", timeout=30)
            return f"normal client: {r.status_code}"
        finally:
            for s in socks:
                s.close()

    def bad_length() -> str:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 12x\r\n\r\n")
            answer = s.recv(4096)
        head = answer.split(b"\r\n\r\n")[0].lower()
        kind = "json" if b"application/json" in head else "text"
        return f"{answer[9:12].decode()} {kind}"

    def leave() -> str:
        try:
            httpx.post(f"{url}/explain", params={"demo": "213"}, data=slow, timeout=1.0)
        except httpx.TimeoutException:
            return "client left after 1 s"
        return "answered within 1 s"

    return {
        "1. CSV 2000x12, fs=0.01, 12-lead model": lambda: post(
            files={"files": ("e12.csv", csv_12)},
            data={"fs": "0.01", "model": "ecglens-ptbxl-binary"}),
        "1. EDF at 0.002 Hz": lambda: post(files={"files": ("slow.edf", edf_path.read_bytes())}),
        "2. CSV of 1e6 columns (4 MB)": lambda: post(
            files={"files": ("w.csv", (",".join(["0", "1"] * 500_000) + "\n").encode())},
            data={"fs": "360"}),
        "3. WFDB, no sample count, 60 MB .dat in a zip": lambda: post(
            files={"files": ("r.zip", zipped.getvalue())}),
        "3. WFDB, 20M samples declared": lambda: post(
            files={"files": ("b.zip", twenty.getvalue())}),
        "4. over the time limit (explain 32 beats of 213, 100 MC passes)": lambda: str(
            httpx.post(f"{url}/explain", params={"demo": "213"}, data=slow,
                       timeout=300).status_code),
        "4. client leaves after 1 s": leave,
        "5. POST with Origin: http://evil.example": lambda: post(
            files={"files": ("x.txt", b"1\n2\n")}, data={"fs": "360"},
            headers={"Origin": "http://evil.example"}),
        "5. Host: attacker.example": lambda: str(httpx.get(
            f"{url}/health", headers={"Host": "attacker.example"}, timeout=10).status_code),
        "6. 64 slow clients, then a normal one": slow_clients,
        "7. EDF with physical min == max": lambda: post(files={"files": ("flat.edf", flat)}),
        "7. 1,000-character file name": lambda: post(
            files={"files": ("a" * 996 + ".hea", b"r 1 360\n")}),
        "7. malformed Content-Length": bad_length,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the ecglens to serve")
    parser.add_argument("--request-timeout", type=float, default=5.0)
    parser.add_argument("--skip", action="append", default=[], help="leave out cases naming it")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args(argv)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start(args.src, port, args.request_timeout)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, send in cases(url, port, Path(tmp)).items():
                if any(s in name for s in args.skip):
                    continue
                if server.poll() is not None:
                    print(f"{name}: server gone", flush=True)
                    break
                row = {"case": name, **measure(server, url, send)}
                rows.append(row)
                print(f"{name}: {row['status']} in {row['seconds']:.1f} s, busy "
                      f"{row['busy_after_s']:.1f} s after, +{row['growth_mb']:.0f} MB, /health "
                      f"{row['health_during']} during, {'ok' if row['health_after'] else 'DOWN'} "
                      "after", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    lines = [
        f"`python bench/serve_hostile.py --src {args.src}` (request timeout "
        f"{args.request_timeout:g} s)", "",
        "| case | answer | s | busy after, s | peak growth MB | /health during | after |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['status']} | {r['seconds']:.1f} | {r['busy_after_s']:.1f} | "
            f"{r['growth_mb']:.0f} | {r['health_during']} | "
            f"{'ok' if r['health_after'] else 'down'} |"
        )
    print("\n" + "\n".join(lines))
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
