"""tox.ini spans the supported releases: from pyproject.toml's floor up, each torch with its torchvision."""

import configparser
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# torchvision built for each torch minor release (torchvision's own compatibility table). torch 2.15
# has none of its own yet: the newest torchvision, 0.29.2, declares torch>=2.14.0, and the suite's
# torchvision cases pass with it on 2.15.0 (results/tox/verification.md).
TORCHVISION_FOR = {"2.4": "0.19", "2.5": "0.20", "2.6": "0.21", "2.7": "0.22", "2.8": "0.23", "2.9": "0.24",
                   "2.10": "0.25", "2.11": "0.26", "2.12": "0.27", "2.13": "0.28", "2.14": "0.29", "2.15": "0.29"}


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
    torch_envs = [e for e in envs if e != "report"]
    assert len(torch_envs) >= 6 and set(torch_envs) == set(releases)
    floor = next(d for d in project_dependencies() if d.startswith("torch>="))
    floor_version = re.search(r">=([\d.]+)", floor).group(1)
    oldest = min(releases.values(), key=lambda p: tuple(map(int, p["torch"].split("."))))
    assert _minor(oldest["torch"]) == _minor(floor_version), (oldest, floor)
    assert max(tuple(map(int, p["torch"].split("."))) for p in releases.values()) >= (2, 15, 0)
    for env, pinned in releases.items():
        assert env == "torch" + _minor(pinned["torch"]).replace(".", ""), env  # the name says the release
        assert _minor(pinned["torchvision"]) == TORCHVISION_FOR[_minor(pinned["torch"])], env


def test_every_release_installs_the_package_with_its_own_dependencies():
    """No environment runs from the source tree with a hand-made list of the package's needs
    (torch215 did while 2.15 had no torchvision): each installs the package, so its dependencies
    come from pyproject.toml alone."""
    config = tox_config()
    assert config["testenv"]["package"] == "editable" and "skip_install" not in config["testenv"]
    torch_sections = [s for s in config.sections() if s.startswith("testenv:torch")]
    assert torch_sections == [], torch_sections


def test_setuptools_is_a_dependency_for_torch_utils_benchmark():
    assert "setuptools" in project_dependencies()
