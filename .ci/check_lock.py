"""Check that requirements.lock pins every dependency of pyproject.toml (extras included)
to one exact version that the declared range admits. Exit 1 naming each mismatch."""

import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

root = Path(__file__).resolve().parents[1]
project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
declared = [Requirement(r) for r in project["dependencies"]]
for extra in project.get("optional-dependencies", {}).values():
    declared += [Requirement(r) for r in extra]

pins: dict[str, Version] = {}
for n, line in enumerate((root / "requirements.lock").read_text().splitlines(), 1):
    line = line.split("#")[0].strip()
    if not line:
        continue
    req = Requirement(line)
    spec = list(req.specifier)
    if len(spec) != 1 or spec[0].operator != "==":
        sys.exit(f"requirements.lock:{n}: {line!r} is not pinned with ==")
    pins[canonicalize_name(req.name)] = Version(spec[0].version)

problems = []
for req in declared:
    name = canonicalize_name(req.name)
    if name == "ecglens":
        continue
    if name not in pins:
        problems.append(f"{req.name} is in pyproject.toml but not in requirements.lock")
    elif not req.specifier.contains(pins[name], prereleases=True):
        problems.append(f"{req.name}=={pins[name]} in requirements.lock violates {req}")
for p in problems:
    print(f"requirements.lock: {p}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"requirements.lock: {len(pins)} pins cover the {len(declared)} declared requirements")
