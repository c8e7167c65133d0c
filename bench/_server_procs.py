"""What the server benchmarks (``serve_load.py``, ``serve_hostile.py``) share: a free port for
the server they start, and the memory of a server and its worker processes."""

from __future__ import annotations

import socket
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pss_mb(pid: int) -> float:
    """Memory of process ``pid`` and its children (the workers) in MB: their proportional set
    sizes (Linux /proc), so that pages they share are counted once."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    total = 0.0
    for p in [pid, *map(int, children)]:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
                    break
        except OSError:
            continue  # a worker that just ended
    return total
