"""Derive requirements.txt (pip pins) from environment.yml (conda pins).

Standard library only, so that it runs before any environment exists.
Usage: python3 tools/requirements_from_env.py environment.yml > requirements.txt
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

SKIP = {"python", "pip"}
# "- name=1.2  # pip: pipname" (conda dependency) or "- name==1.2" (under the "- pip:" list)
_LINE = re.compile(r"^\s*-\s*([A-Za-z0-9_.\-]+)\s*==?\s*([^\s#]+)\s*(?:#\s*pip:\s*([A-Za-z0-9_.\-]+))?")


def pip_pins(environment_yml: str) -> dict[str, str]:
    """Map pip package name -> pinned version from the dependency lines of environment.yml."""
    pins: dict[str, str] = {}
    for line in environment_yml.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        conda_name, version, pip_name = m.groups()
        if conda_name in SKIP:
            continue
        pins[pip_name or conda_name] = version
    return pins


def render(pins: dict[str, str]) -> str:
    head = "# GENERATED from environment.yml by tools/requirements_from_env.py -- do not edit.\n"
    return head + "".join(f"{name}=={version}\n" for name, version in pins.items())


if __name__ == "__main__":
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "environment.yml")
    sys.stdout.write(render(pip_pins(src.read_text())))
