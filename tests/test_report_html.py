"""blitzbench report --html: one self-contained page (blitzbench.analysis.report_html), built from
the recorded runs in tests/data/recorded and the committed verification table; read as text
(nothing from elsewhere, every text escaped, one heat-map cell per case and compared series) and
opened in headless Chromium (no console error, the cells, the explained cases, the releases, a
screenshot). The browser test skips, saying what to install, where Chromium, chromedriver or
selenium is missing."""

from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from blitzbench.analysis import report_html
from blitzbench.cli import report

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT / "tests" / "data" / "recorded"
VERIFICATION = Path("results/tox/verification.json")  # the committed table, relative to the repository root
INTERLEAVED = RECORDED / "torch-2.11-vs-2.14-interleaved"
PLANTED = RECORDED / "same-release-aa-and-planted-15pct"
COUNTED = RECORDED / "counted-torch24-vs-torch214"
RELEASES = 8  # in the committed verification table
HTML_SIZE_LIMIT = 2_000_000


def build(tmp_path: Path, name: str, *paths, verification: bool = True) -> tuple[str, dict]:
    """report --html (and --json beside it) over ``paths``: the page's text and the JSON document."""
    page, data = tmp_path / f"{name}.html", tmp_path / f"{name}.json"
    args = [*map(str, paths), "--html", str(page), "--json", str(data)]
    if verification:
        args += ["--verification", str(ROOT / VERIFICATION)]
    assert report.main(args) == 0
    return page.read_text(encoding="utf-8"), json.loads(data.read_text(encoding="utf-8"))


def expected_time_cells(doc: dict) -> int:
    """Cases with a timed figure in any series, times the compared series whose times compare."""
    cases = {r["case"] for r in doc["records"] if r["figure"] is not None}
    compared = [s for s in doc["series"] if not s["baseline"] and s["verdict"] != "not compared"]
    return len(cases) * len(compared)


def expected_count_cells(doc: dict) -> int:
    cases = {r["case"] for r in doc["records"] if r["instructions_per_call"] is not None}
    counted = [s for s in doc["series"] if not s["baseline"] and s["counted_runs"]]
    return len(cases) * len(counted)


def explained_cases(doc: dict) -> set[str]:
    return {r["case"] for r in doc["records"] if r["instructions_verdict"] in ("more", "fewer")}


class Elements(HTMLParser):
    """The page's elements: per element its tag, attributes and the ids of the elements around it."""

    VOID = {"meta", "br", "img", "input", "link", "hr", "line"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.found: list[tuple[str, dict, tuple[str, ...]]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.found.append((tag, attrs, tuple(a.get("id", "") for _, a in self.stack)))
        if tag not in self.VOID:
            self.stack.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.found.append((tag, dict(attrs), tuple(a.get("id", "") for _, a in self.stack)))

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def cells(self, section: str) -> list[dict]:
        return [a for tag, a, around in self.found if tag == "rect" and a.get("class") == "cell" and section in around]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The three recordings' pages (with the verification table) and their JSON documents."""
    tmp = tmp_path_factory.mktemp("pages")
    return {"interleaved": build(tmp, "interleaved", INTERLEAVED), "planted": build(tmp, "planted", PLANTED),
            "counted": build(tmp, "counted", COUNTED)}


@pytest.mark.parametrize("name", ["interleaved", "planted", "counted"])
def test_the_page_loads_nothing_from_elsewhere(pages, name):
    text, _ = pages[name]
    assert text.startswith("<!DOCTYPE html>") and len(text) < HTML_SIZE_LIMIT
    lowered = text.lower()
    for outside in ("<script", "<link", "<img", "<iframe", "@import", "src=", "xlink:href"):
        assert outside not in lowered, outside
    assert set(re.findall(r"url\(([^)]*)\)", lowered)) <= {"#time-hatch", "#instr-hatch", "#time-legend-hatch",
                                                           "#instr-legend-hatch"}
    # Addresses only as links of the verification table (upstream issues), never loaded.
    elements = Elements(text)
    links = [a["href"] for tag, a, around in elements.found if tag == "a" and "verification" in around]
    assert links and all(href.startswith("https://github.com/pytorch/") for href in links)
    assert not [a for tag, a, around in elements.found if tag == "a" and "verification" not in around]
    addresses = re.findall(r"https?://[^\s\"'<>)]+", text)
    assert sorted(set(addresses)) == sorted(set(links))


def test_without_verification_the_page_has_no_address(tmp_path):
    text, _ = build(tmp_path, "plain", INTERLEAVED, verification=False)
    assert "http://" not in text and "https://" not in text
    assert 'id="verification"' not in text and 'id="time-heatmap"' in text


@pytest.mark.parametrize("name", ["interleaved", "planted", "counted"])
def test_one_cell_per_case_and_compared_series(pages, name):
    text, doc = pages[name]
    elements = Elements(text)
    time_cells = elements.cells("time-heatmap")
    count_cells = elements.cells("instructions-heatmap")
    assert len(time_cells) == expected_time_cells(doc)
    assert len(count_cells) == expected_count_cells(doc)
    records = {(r["case"], r["label"]): r for r in doc["records"]}
    for cell in time_cells:
        record = records[cell["data-case"], cell["data-series"]]
        assert cell["data-verdict"] == record["verdict"]
        assert float(cell["data-ratio"]) == pytest.approx(record["ratio"], rel=1e-5)
    for cell in count_cells:
        record = records[cell["data-case"], cell["data-series"]]
        assert cell["data-verdict"] == record["instructions_verdict"]
        assert float(cell["data-ratio"]) == pytest.approx(record["instructions_ratio"], rel=1e-5)


def test_the_planted_slowdown_is_red_and_the_unclear_cells_pale(pages):
    """B is 15% slower by a busy wait: its cells are on the red side; four paired rounds are too
    few for a verdict, so every cell is pale and hatched (unclear (4 runs)), and its <title> says so."""
    text, _ = pages["planted"]
    assert 'data-series="B: torch 2.14.1+cu130 cpu"' in text
    b_cells = re.findall(r'<rect class="cell"[^>]*data-series="B: [^"]*"[^>]*>', text)
    slower = [c for c in b_cells if float(re.search(r'data-ratio="([^"]+)"', c).group(1)) < 0.9]
    assert len(slower) >= 6
    for cell in slower:
        fill = re.search(r'fill="#(..)(..)(..)"', cell).groups()
        red, _, blue = (int(x, 16) for x in fill)
        assert red > blue
        assert 'data-verdict="unclear (4 runs)"' in cell
    assert "verdict: unclear (4 runs)\n4 paired rounds" in text
    assert text.count('class="hatch"') == len(re.findall(r'<rect class="cell"', text)) + 2  # + the two means


def test_a_case_missing_in_a_series_has_a_missing_cell(tmp_path):
    """Runs of two recordings: the cases one series lacks get a cell all the same, marked missing."""
    other = tmp_path / "other"
    other.mkdir()
    for run in sorted((PLANTED / "B").glob("*.json")):
        data = json.loads(run.read_text())
        data["benchmarks"] = data["benchmarks"][:2]
        (other / run.name).write_text(json.dumps(data))
    text, doc = build(tmp_path, "missing", PLANTED / "A", other, verification=False)
    cells = Elements(text).cells("time-heatmap")
    assert len(cells) == expected_time_cells(doc) == len({r["case"] for r in doc["records"]})
    missing = [c for c in cells if c["data-verdict"] == "missing"]
    assert missing and all(c["data-ratio"] == "" for c in missing)


def test_the_counted_cases_are_explained(pages):
    text, doc = pages["counted"]
    cases = explained_cases(doc)
    assert cases == {"chapter_net-cpu-bs4-forward", "cifar_net-cpu-bs4-step"}
    details = re.findall(r'<details class="explain" data-case="([^"]+)"', text)
    assert sorted(details) == sorted(cases)
    # What --explain prints: the largest change first, in a table of function, A, B, change, of total.
    assert "<th>function</th><th>A</th><th>B</th><th>change</th><th>of total</th>" in text
    assert "cpu_max_pool" in text


def test_a_case_without_profiles_is_left_out(tmp_path):
    """The profiles of one side removed: no case is explained, and the page is written all the same."""
    for side in ("torch24", "torch214"):
        (tmp_path / side).mkdir()
        for path in (COUNTED / side).iterdir():
            if side == "torch24" or not path.name.endswith(".callgrind.json.gz"):
                shutil.copy(path, tmp_path / side / path.name)
    text, doc = build(tmp_path, "unprofiled", tmp_path / "torch24", tmp_path / "torch214", verification=False)
    assert explained_cases(doc)
    assert "<details" not in text and 'id="explain"' not in text
    assert len(Elements(text).cells("instructions-heatmap")) == expected_count_cells(doc) == 4


def test_every_text_is_escaped(tmp_path):
    """A series folder named <b>x<i>&" (a name cannot hold "/", so not <b>x</b>), and a known bug
    whose title is markup and whose upstream is not an address, show as text."""
    folder = '<b>x<i>&"'
    for name, source in (("base", PLANTED / "A"), (folder, PLANTED / "B")):
        (tmp_path / "runs" / name).mkdir(parents=True)
        for run in source.glob("*.json"):
            shutil.copy(run, tmp_path / "runs" / name / run.name)
    table = json.loads((ROOT / VERIFICATION).read_text())
    table["known_bugs"][0]["title"] = "<script>alert(1)</script> & more"
    table["known_bugs"][0]["upstream"] = "javascript:alert(1)"
    table["releases"][0]["env"] = "<i>env</i>"
    (tmp_path / "v.json").write_text(json.dumps(table))
    page = tmp_path / "r.html"
    assert report.main([str(tmp_path / "runs" / "base"), str(tmp_path / "runs" / folder), "--html", str(page),
                        "--verification", str(tmp_path / "v.json")]) == 0
    text = page.read_text()
    assert "<b>x" not in text and "&lt;b&gt;x&lt;i&gt;&amp;&quot;" in text
    assert "<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in text
    assert 'href="javascript' not in text and "javascript:alert(1)" in text
    assert "<i>env</i>" not in text and "&lt;i&gt;env&lt;/i&gt;" in text
    cells = Elements(text).cells("time-heatmap")
    assert len(cells) == 8 and all(folder in c["data-series"] for c in cells)  # the parser unescapes attributes


def test_the_colour_scale():
    """Time: above 1 faster, blue; below slower, red; clipped at ±30%. Counts: more red, fewer blue."""
    red, white, blue = (report_html._rgb(report_html.diverging(t)) for t in (-1, 0, 1))
    assert red[0] > red[2] and blue[2] > blue[0] and min(white) > 240
    assert report_html.time_position(1.3) == pytest.approx(1)
    assert report_html.time_position(1 / 1.3) == pytest.approx(-1)
    assert report_html.diverging(report_html.time_position(2.0)) == report_html.diverging(1)
    assert report_html.count_position(1.05) == pytest.approx(-1) and report_html.count_position(0.9) > 1


# -- in the browser ----------------------------------------------------------------------------------

INSTALL = "apt-get install chromium chromium-driver"


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through selenium, with Debian's chromium and chromedriver (Selenium
    Manager never downloads anything: both paths are given and SE_OFFLINE is set)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip(f"chromium not found: {INSTALL}")
    chromedriver = shutil.which("chromedriver")
    if chromedriver is None:
        pytest.skip(f"chromedriver not found: {INSTALL}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium not installed: pip install -e '.[dev]' (selenium>=4.15)")
    offline = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                     "--disable-gpu", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        if offline is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = offline


def open_page(driver, path: Path) -> None:
    driver.get(path.resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"


def severe(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def test_the_pages_in_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By

    for name, source in (("interleaved", INTERLEAVED), ("planted", PLANTED), ("counted", COUNTED)):
        _, doc = build(tmp_path, name, source)
        open_page(browser, tmp_path / f"{name}.html")
        assert severe(browser) == [], name
        # Nothing fetched: no resource beyond the page itself.
        assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
        time_cells = browser.find_elements(By.CSS_SELECTOR, "#time-heatmap rect.cell")
        count_cells = browser.find_elements(By.CSS_SELECTOR, "#instructions-heatmap rect.cell")
        assert len(time_cells) == expected_time_cells(doc), name
        assert len(count_cells) == expected_count_cells(doc), name
        for cell in (time_cells + count_cells)[:3]:
            title = cell.find_element(By.TAG_NAME, "title").get_attribute("textContent")
            assert cell.get_attribute("data-case") in title and cell.get_attribute("data-verdict") in title
            assert cell.size["width"] > 30 and cell.size["height"] > 15
        details = browser.find_elements(By.CSS_SELECTOR, "#explain details.explain")
        assert sorted(d.get_attribute("data-case") for d in details) == sorted(explained_cases(doc)), name
        releases = browser.find_elements(By.CSS_SELECTOR, "#verification table.releases tbody tr")
        assert len(releases) == RELEASES
        assert "torch215" in releases[-1].text and "2.15.0" in releases[-1].text
        # Readable at 1280 px: the page does not scroll sideways (a wide heat map scrolls in its box).
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 1280, name
        if name == "counted":
            details[0].find_element(By.TAG_NAME, "summary").click()
            assert details[0].get_attribute("open") is not None
            rows = details[0].find_elements(By.CSS_SELECTOR, "table.explain tbody tr")
            assert 1 <= len(rows) <= 2 * report_html.EXPLAIN_TOP and rows[0].is_displayed()
    open_page(browser, tmp_path / "interleaved.html")
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(height + 120, 8000))
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    assert severe(browser) == []
