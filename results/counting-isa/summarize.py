"""The tables of results/counting-isa/summary.md, from the runs measure.sh saved:

    python results/counting-isa/summarize.py > results/counting-isa/summary.md

Per setting: how long counting took (the counting processes' time, from each run's machine info,
and the whole pytest run, from times.txt); how far the second run's counts lie from the first's
(A/A); the planted changes' ratios against the first run and the verdicts the report gives them
(blitzbench.analysis.instruction_compare, 1% threshold). Then each case's count under both settings.
"""

import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from blitzbench.analysis.saved_runs import load_run  # noqa: E402
from blitzbench.analysis.verdicts import count_verdict  # noqa: E402

THRESHOLD = 0.01  # blitzbench report's --min-change-instructions default
SETTINGS = ("avx", "native")
PLANTS = {"planted-forward": "a logcumsumexp in every forward pass (torch's own code)",
          "planted-conv": "the first convolution again on an eighth of the batch (the convolution kernels)"}


def run_of(setting: str, name: str):
    paths = sorted((HERE / f"{setting}-{name}").glob("*_cpu.json"))
    return load_run(paths[-1]) if paths else None


def counts(run) -> dict[str, float]:
    return {key.id: c.per_call for key, c in run.instructions.items()}


def wall_times() -> dict[tuple[str, str], int]:
    times = {}
    path = HERE / "times.txt"
    for line in (path.read_text().splitlines() if path.exists() else []):
        words = line.replace(":", "").split()
        if len(words) >= 3 and words[2].isdigit():
            times[words[0], words[1]] = int(words[2])
    return times


def main() -> None:
    walls = wall_times()
    print("# Which kernels are counted: the measurement\n")
    print("Made by `bash results/counting-isa/measure.sh` (torch "
          f"{run_of('avx', 'first').torch_version}, {run_of('avx', 'first').machine_info['instructions']['valgrind']}, "
          f"{run_of('avx', 'first').machine_identity}, 2 cores) and `python results/counting-isa/summarize.py`.\n")
    print("## Time and repeatability, the quick CPU set (30 cases)\n")
    print("| setting | counting (valgrind processes), first / second run | whole run (timing + counting) | "
          "A/A: largest difference of a case's count | cases beyond 0.5% |")
    print("|---|---|---|---|---|")
    for setting in SETTINGS:
        first, second = run_of(setting, "first"), run_of(setting, "second")
        if first is None or second is None:
            print(f"| {setting} | missing: not measured | | | |")
            continue
        a, b = counts(first), counts(second)
        worst = max(a, key=lambda case: abs(b[case] / a[case] - 1))
        beyond = sum(abs(b[c] / a[c] - 1) > 0.005 for c in a)
        secs = [r.machine_info["instructions"]["counting_seconds"] for r in (first, second)]
        whole = " / ".join(f"{walls[setting, n]} s" if (setting, n) in walls else "?" for n in ("first", "second"))
        print(f"| {setting} | {secs[0]:.0f} s / {secs[1]:.0f} s | {whole} | {b[worst] / a[worst] - 1:+.3%} "
              f"({worst}) | {beyond} |")
    print("\n## Planted changes (chapter_net's 10 cases), against the first run of the same setting\n")
    for plant, what in PLANTS.items():
        print(f"### {plant}: {what}\n")
        print("| case | " + " | ".join(f"{s}: ratio, verdict" for s in SETTINGS) + " |")
        print("|---|" + "---|" * len(SETTINGS))
        runs = {s: (run_of(s, "first"), run_of(s, plant)) for s in SETTINGS}
        cases = list(counts(runs["avx"][1])) if runs["avx"][1] else []
        for case in cases:
            cells = []
            for s in SETTINGS:
                base, planted = runs[s]
                if base is None or planted is None or case not in counts(planted):
                    cells.append("missing: not measured")
                    continue
                ratio = counts(planted)[case] / counts(base)[case]
                cells.append(f"{ratio:.4f}, {count_verdict(ratio, THRESHOLD)}")
            print(f"| {case} | " + " | ".join(cells) + " |")
        print()
    print("## Each case's instructions per call under both settings (first runs)\n")
    avx, native = run_of("avx", "first"), run_of("native", "first")
    if avx is None or native is None:
        print("missing: a setting was not measured")
        return
    a, n = counts(avx), counts(native)
    print("| case | avx | native | avx ÷ native |")
    print("|---|---|---|---|")
    for case in a:
        print(f"| {case} | {a[case]:,.0f} | {n.get(case, math.nan):,.0f} | {a[case] / n[case]:.3f} |")


if __name__ == "__main__":
    main()
