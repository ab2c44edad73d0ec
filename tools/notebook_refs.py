"""Write the reference outputs that ``make test-notebooks`` (nbval) compares against: the executed
notebooks of the quick synthetic run, without figure payloads (nbval does not compare images) and
without run metadata (timings), into ``tests/notebook_refs/`` -- ``make test-refs``; review the
diff, then commit it. Usage: python tools/notebook_refs.py EXECUTED_DIR REFS_DIR"""
from __future__ import annotations

import json
import sys
from pathlib import Path

RUN_METADATA = ("papermill", "execution")


def strip(nb: dict) -> dict:
    """The notebook without run metadata and with empty image payloads (the outputs stay)."""
    for key in RUN_METADATA:
        nb["metadata"].pop(key, None)
    for cell in nb["cells"]:
        for key in RUN_METADATA:
            cell["metadata"].pop(key, None)
        for out in cell.get("outputs", []):
            for mime in [m for m in out.get("data", {}) if m.startswith("image/")]:
                out["data"][mime] = ""
            out.get("metadata", {}).pop("image/png", None)
    return nb


def main(executed: Path, refs: Path) -> None:
    found = sorted(executed.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise SystemExit(f"no executed notebooks in {executed}: run the quick synthetic run first (make test-refs)")
    refs.mkdir(parents=True, exist_ok=True)
    for old in refs.glob("*.ipynb"):
        old.unlink()
    for nb in found:
        text = json.dumps(strip(json.loads(nb.read_text())), indent=1, ensure_ascii=False) + "\n"
        tmp = refs / (nb.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(refs / nb.name)
        print(f"{refs / nb.name}: {len(text) // 1024} KiB")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
