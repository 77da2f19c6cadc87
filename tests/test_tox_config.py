"""tox.ini spans the supported releases: from pyproject.toml's floor up, each torch with its torchvision."""

import configparser
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# torchvision built for each torch minor release (torchvision's own compatibility table).
TORCHVISION_FOR = {"2.4": "0.19", "2.5": "0.20", "2.6": "0.21", "2.7": "0.22", "2.8": "0.23", "2.9": "0.24",
                   "2.10": "0.25", "2.11": "0.26", "2.12": "0.27", "2.13": "0.28", "2.14": "0.29", "2.15": "0.30"}


def tox_config():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    return parser


def project_dependencies() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def pins(deps: str) -> dict[str, dict[str, str]]:
    """{env factor: {package: version}} from the factor-conditional ``deps`` lines."""
    found: dict[str, dict[str, str]] = {}
    for factor, package, version in re.findall(r"^\s*(torch\d+):\s*([\w-]+)==(\S+)", deps, re.M):
        found.setdefault(factor, {})[package] = version
    return found


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def test_environments_run_from_the_floor_to_2_15_with_matching_torchvision():
    config = tox_config()
    envs = [e.strip() for e in config["tox"]["envlist"].split(",")]
    releases = pins(config["testenv"]["deps"])
    releases["torch215"] = {"torch": re.search(r"torch==(\S+)", config["testenv:torch215"]["deps"]).group(1)}
    torch_envs = [e for e in envs if e != "report"]
    assert len(torch_envs) >= 6 and set(torch_envs) == set(releases)
    floor = next(d for d in project_dependencies() if d.startswith("torch>="))
    floor_version = re.search(r">=([\d.]+)", floor).group(1)
    oldest = min(releases.values(), key=lambda p: tuple(map(int, p["torch"].split("."))))
    assert _minor(oldest["torch"]) == _minor(floor_version), (oldest, floor)
    assert max(tuple(map(int, p["torch"].split("."))) for p in releases.values()) >= (2, 15, 0)
    for env, pinned in releases.items():
        assert env == "torch" + _minor(pinned["torch"]).replace(".", ""), env  # the name says the release
        if "torchvision" in pinned:
            assert _minor(pinned["torchvision"]) == TORCHVISION_FOR[_minor(pinned["torch"])], env


def test_the_source_tree_environment_has_the_packages_dependencies_but_torchvision():
    """torch215 cannot install the package (no torchvision for 2.15), so it lists the package's
    dependencies itself; they must not drift apart."""
    listed = {line.strip() for line in tox_config()["testenv:torch215"]["deps"].splitlines() if line.strip()}
    expected = {d for d in project_dependencies() if not d.startswith(("torch>=", "torchvision"))}
    assert {d for d in listed if not d.startswith("torch==")} == expected


def test_setuptools_is_a_dependency_for_torch_utils_benchmark():
    assert "setuptools" in project_dependencies()
