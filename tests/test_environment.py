"""environment.yml is the single source of versions; requirements.txt must be derived from it."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("req", ROOT / "tools" / "requirements_from_env.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_requirements_derived_from_environment():
    tool = _tool()
    pins = tool.pip_pins((ROOT / "environment.yml").read_text())
    assert (ROOT / "requirements.txt").read_text() == tool.render(pins)
    assert pins["tensorflow-cpu"] and pins["librosa"] and pins["papermill"] and pins["nbval"]


def test_lock_agrees_with_pins():
    tool = _tool()
    pins = tool.pip_pins((ROOT / "environment.yml").read_text())
    lock = dict(line.strip().split("==") for line in (ROOT / "requirements.lock").read_text().splitlines()
                if "==" in line)
    lock = {k.lower().replace("_", "-"): v for k, v in lock.items()}
    for name, version in pins.items():
        assert lock.get(name.lower()) == version, f"{name}: environment.yml {version}, lock {lock.get(name.lower())}"
