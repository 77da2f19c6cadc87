"""The layout holds: the harness is the blitzbench package and bench/ holds test files only; no
module imports a test file (what tests share lives in blitzbench/testing.py); and no two modules
of the package or of reference_models import each other, directly or round a longer circle,
at the top or inside a function."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORTS_A_TEST_FILE = re.compile(r"^\s*(from\s+[\w.]*\btest_\w+\s+import|import\s+[\w.]*\btest_\w+"
                                 r"|from\s+[\w.]+\s+import\s+.*\btest_\w+)", re.MULTILINE)


def test_no_module_imports_a_test_file():
    offenders = [f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
                 for folder in ("bench", "tests", "reference_models", "blitzbench") for path in sorted((ROOT / folder).rglob("*.py"))
                 for match in IMPORTS_A_TEST_FILE.finditer(path.read_text(encoding="utf-8"))]
    offenders += [f"conftest.py: {m.group(0).strip()}"
                  for m in IMPORTS_A_TEST_FILE.finditer((ROOT / "conftest.py").read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_check_sees_such_an_import():
    assert IMPORTS_A_TEST_FILE.search("    import bench.test_throughput as throughput\n")
    assert IMPORTS_A_TEST_FILE.search("from bench.test_modes import compile_wrongly\n")
    assert not IMPORTS_A_TEST_FILE.search("from blitzbench.testing import compile_wrongly\n")


def test_bench_holds_test_files_only():
    others = sorted(p.name for p in (ROOT / "bench").glob("*.py")
                    if not p.name.startswith("test_") and p.name not in ("__init__.py", "conftest.py"))
    assert others == []


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(packages=("blitzbench", "reference_models")) -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its text (``from P import m`` counts
    as importing P.m when that is a module, else P)."""
    modules = {module_name(p): p for package in packages for p in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                           for alias in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_two_modules_import_each_other():
    # a package's __init__ importing its own modules is how a package is made, not a circle
    graph = {m: {t for t in targets if not m or not t.startswith(m + ".")} for m, targets in import_graph().items()}
    graph = {m: {t for t in targets if not (m.startswith(t + ".") and t in graph)} for m, targets in graph.items()}
    assert circles(graph) == []


def test_the_circle_check_sees_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
