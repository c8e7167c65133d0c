"""The README's Python example runs as printed."""

import re
import subprocess
import sys

from conftest import REPO


def test_readme_python_example_runs():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "README has no Python example"
    code = blocks[0] + "\nassert maps.shape == (3, 126) and raw.shape == (3, 126)\n"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
