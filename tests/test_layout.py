"""No module imports a test file: what tests share lives in a helpers module (blitzbench/testing.py),
what the harness needs in harness modules (blitzbench/measure/case_timing.py)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORTS_A_TEST_FILE = re.compile(r"^\s*(from\s+[\w.]*\btest_\w+\s+import|import\s+[\w.]*\btest_\w+"
                                 r"|from\s+[\w.]+\s+import\s+.*\btest_\w+)", re.MULTILINE)


def test_no_module_imports_a_test_file():
    offenders = [f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
                 for folder in ("bench", "tests", "reference_models") for path in sorted((ROOT / folder).rglob("*.py"))
                 for match in IMPORTS_A_TEST_FILE.finditer(path.read_text(encoding="utf-8"))]
    offenders += [f"conftest.py: {m.group(0).strip()}"
                  for m in IMPORTS_A_TEST_FILE.finditer((ROOT / "conftest.py").read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_check_sees_such_an_import():
    assert IMPORTS_A_TEST_FILE.search("    import bench.test_throughput as throughput\n")
    assert IMPORTS_A_TEST_FILE.search("from bench.test_modes import compile_wrongly\n")
    assert not IMPORTS_A_TEST_FILE.search("from blitzbench.testing import compile_wrongly\n")
