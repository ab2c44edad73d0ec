"""The package's structure: one folder per layer of ``speechemo.LAYERS`` holding exactly the modules
listed there, absolute imports that point only downwards (module level and inside functions), no
module over 450 lines, README map current."""
import ast
from pathlib import Path

import pytest

import speechemo
from speechemo.deployment import report

PACKAGE = Path(speechemo.__file__).parent
ROOT = PACKAGE.parents[1]
MAX_LINES = 450


def layer_index() -> dict[str, int]:
    return {layer: i for i, layer in enumerate(speechemo.LAYERS)}


def package_imports(path: Path) -> set[tuple[str, str | None]]:
    """(layer, module or None) of every package import in ``path``, anywhere in the file.

    A relative import is reported as ``("relative", None)``: the package imports absolutely so that
    a module's layer shows in the import itself."""
    found: set[tuple[str, str | None]] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                found.add(("relative", None))
            elif node.module and node.module.split(".")[0] == "speechemo":
                rest = node.module.split(".")[1:]
                if len(rest) >= 2:
                    found.add((rest[0], rest[1]))
                elif rest:
                    found |= {(rest[0], a.name) for a in node.names}
                else:
                    found |= {(a.name, None) for a in node.names}
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "speechemo" and len(parts) > 1:
                    found.add((parts[1], parts[2] if len(parts) > 2 else None))
    return found


def modules() -> list[tuple[str, str]]:
    """(layer folder, module) of every module file in the package."""
    return sorted((p.parent.name, p.stem) for p in PACKAGE.glob("*/*.py") if p.stem != "__init__")


def test_folders_hold_exactly_the_listed_modules():
    listed = sorted((layer, m) for layer, mods in speechemo.LAYERS.items() for m in mods)
    assert listed == modules()
    assert sorted(p.stem for p in PACKAGE.glob("*.py")) == ["__init__"], "a module outside the layer folders"
    for layer in speechemo.LAYERS:
        assert (PACKAGE / layer / "__init__.py").read_text().startswith('"""'), f"{layer}/__init__.py: no docstring"


def test_imports_are_absolute_and_point_only_down():
    rank, problems = layer_index(), []
    for layer, m in modules():
        for dep_layer, dep in sorted(package_imports(PACKAGE / layer / f"{m}.py"), key=str):
            if dep_layer == "relative":
                problems.append(f"{layer}/{m}.py uses a relative import (write speechemo.<layer>.<module>)")
            elif dep_layer not in rank:
                problems.append(f"{layer}/{m}.py imports speechemo.{dep_layer}, which is not a layer")
            elif rank[dep_layer] > rank[layer]:
                problems.append(f"{layer}/{m}.py ({layer}) imports {dep_layer}.{dep}")
    assert not problems, "\n".join(problems)


def test_the_import_walker_sees_imports_inside_functions(tmp_path):
    src = tmp_path / "x.py"
    src.write_text("from speechemo.data import audio\n\ndef f():\n    from speechemo.deployment.export import feature_matrix\n"
                   "    from speechemo.models import deep\n    import speechemo.deployment.card as card\n"
                   "    from . import labels\n")
    assert package_imports(src) == {("data", "audio"), ("deployment", "export"), ("models", "deep"),
                                    ("deployment", "card"), ("relative", None)}


def test_an_upward_import_is_caught(tmp_path):
    """The walker and the rule together: a models module importing the workbook glue is reported."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "x.py").write_text("def f():\n    from speechemo.workbook import steps\n")
    deps = package_imports(tmp_path / "models" / "x.py")
    rank = layer_index()
    assert any(rank[d] > rank["models"] for d, _ in deps)


def test_serving_imports_nothing_from_training():
    training = {"protocol", "models", "analysis", "deployment", "workbook"}
    for m in speechemo.LAYERS["serving"]:
        deps = {d for d, _ in package_imports(PACKAGE / "serving" / f"{m}.py")}
        assert not deps & training, m


@pytest.mark.parametrize("module", [f"{layer}/{m}" for layer, m in modules()])
def test_module_size(module):
    n = len((PACKAGE / f"{module}.py").read_text().splitlines())
    assert n <= MAX_LINES, f"{module}.py has {n} lines (at most {MAX_LINES}): split it by what it does"


def test_readme_module_map_is_generated_from_layers():
    text = (ROOT / "README.md").read_text()
    block = text.split(report.MODULES_START)[1].split(report.MODULES_END)[0].strip()
    assert block == report.module_map_markdown()
