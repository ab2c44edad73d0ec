"""The package's structure: every module in one layer of ``speechemo.LAYERS``, imports only
downwards (module level and inside functions), no module over 450 lines, README map current."""
import ast
from pathlib import Path

import pytest

import speechemo
from speechemo import report

PACKAGE = Path(speechemo.__file__).parent
ROOT = PACKAGE.parents[1]
MAX_LINES = 450


def layer_of() -> dict[str, int]:
    return {m: i for i, mods in enumerate(speechemo.LAYERS.values()) for m in mods}


def package_imports(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports, anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
            elif node.module and node.module.split(".")[0] == "speechemo":
                rest = node.module.split(".")[1:]
                found |= {rest[0]} if rest else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("speechemo.")}
    return found


def modules() -> list[str]:
    return sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def test_every_module_is_in_exactly_one_layer():
    listed = [m for mods in speechemo.LAYERS.values() for m in mods]
    assert len(listed) == len(set(listed)), "a module is listed in two layers"
    assert sorted(listed) == modules()


def test_imports_point_only_down():
    layer, names = layer_of(), list(speechemo.LAYERS)
    upward = [f"{m} ({names[layer[m]]}) imports {d} ({names[layer[d]]})"
              for m in modules() for d in sorted(package_imports(PACKAGE / f"{m}.py")) if layer[d] > layer[m]]
    assert not upward, "\n".join(upward)


def test_the_import_walker_sees_imports_inside_functions(tmp_path):
    src = tmp_path / "x.py"
    src.write_text("from . import audio\n\ndef f():\n    from .export import feature_matrix\n"
                   "    from speechemo import deep\n    import speechemo.card\n")
    assert package_imports(src) == {"audio", "export", "deep", "card"}


def test_serving_imports_nothing_from_training():
    training = {m for layer in ("protocol", "models", "analysis", "deployment", "workbook")
                for m in speechemo.LAYERS[layer]}
    for m in speechemo.LAYERS["serving"]:
        assert not package_imports(PACKAGE / f"{m}.py") & training, m


@pytest.mark.parametrize("module", modules())
def test_module_size(module):
    n = len((PACKAGE / f"{module}.py").read_text().splitlines())
    assert n <= MAX_LINES, f"{module}.py has {n} lines (at most {MAX_LINES}): split it by what it does"


def test_readme_module_map_is_generated_from_layers():
    text = (ROOT / "README.md").read_text()
    block = text.split(report.MODULES_START)[1].split(report.MODULES_END)[0].strip()
    assert block == report.module_map_markdown()
