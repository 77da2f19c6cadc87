"""The layers hold: the commands (blitzbench/cli/, and ``python -m blitzbench``) sit on top, and
nothing below them (the rest of the package, reference_models/) imports them, at the top of a module or inside a function; the torch-free
modules (the analysis of saved runs, a case's identity, the benchmark kinds, the suite's messages,
values, figures and store of saved runs) import no torch when they are imported, so that the report runs where torch is not
installed (tox -e report)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "blitzbench"
TORCH_FREE = [*sorted((PACKAGE / "analysis").glob("*.py")),
              *(PACKAGE / name for name in ("cases.py", "kinds.py", "messages.py", "values.py", "store.py",
                                            "figures.py", "counting_isa.py"))]
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def statements(tree: ast.AST, in_functions: bool):
    """Every node of ``tree``; without ``in_functions``, only those run when the module is
    imported (not inside a function's body)."""
    for node in ast.iter_child_nodes(tree):
        yield node
        if in_functions or not isinstance(node, FUNCTIONS):
            yield from statements(node, in_functions)


def imported(source: str, package: str, in_functions: bool = True) -> list[tuple[int, str]]:
    """(line, module) of every import in ``source``, a module of ``package``: ``import a.b``
    names a.b; ``from a import b`` names a and a.b (b may be a module); ``from .x import y`` is
    resolved against ``package``."""
    found = []
    for node in statements(ast.parse(source), in_functions):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join([*parts[:len(parts) - node.level + 1], *([node.module] if node.module else [])]) \
                if node.level else node.module
            found += [(node.lineno, base), *((node.lineno, f"{base}.{alias.name}") for alias in node.names)]
    return found


def names(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def offenders(paths, prefix: str, in_functions: bool = True) -> list[str]:
    found = []
    for path in paths:
        package = ".".join(path.relative_to(ROOT).parent.parts)
        found += [f"{path.relative_to(ROOT)}:{line}: {module}"
                  for line, module in imported(path.read_text(encoding="utf-8"), package, in_functions)
                  if names(module, prefix)]
    return found


def test_nothing_below_the_commands_imports_them():
    # blitzbench/__main__.py is ``python -m blitzbench``, the command itself: above cli/, not below
    below = [path for path in [*sorted(PACKAGE.rglob("*.py")), *sorted((ROOT / "reference_models").rglob("*.py"))]
             if (PACKAGE / "cli") not in path.parents and path != PACKAGE / "__main__.py"]
    assert len(below) > 30  # the package was found
    assert offenders(below, "blitzbench.cli") == []


def test_the_torch_free_modules_import_no_torch_when_imported():
    assert [p for p in TORCH_FREE if not p.exists()] == []
    assert offenders(TORCH_FREE, "torch", in_functions=False) == []
    assert offenders(TORCH_FREE, "torchvision", in_functions=False) == []


def test_the_checks_see_every_form_of_import():
    source = ("import os\n"
              "def run():\n"
              "    from blitzbench.cli.args import BadInput\n"
              "    import torch\n"
              "from blitzbench import cli\n"
              "import blitzbench.cli.report as report\n"
              "from ..cli import main\n"
              "try:\n"
              "    import torch.nn\n"
              "except ImportError:\n"
              "    pass\n")
    modules = [m for _, m in imported(source, "blitzbench.measure")]
    assert sorted(m for m in modules if names(m, "blitzbench.cli")) == [
        "blitzbench.cli", "blitzbench.cli", "blitzbench.cli.args", "blitzbench.cli.args.BadInput",
        "blitzbench.cli.main", "blitzbench.cli.report"]
    on_import = [m for _, m in imported(source, "blitzbench.measure", in_functions=False)]
    assert [m for m in on_import if names(m, "torch")] == ["torch.nn"]  # the torch inside run() is not run on import
    assert not names("blitzbench.client", "blitzbench.cli") and not names("torchvision", "torch")
