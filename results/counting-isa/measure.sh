#!/usr/bin/env bash
# The measurement behind the default of --counting-isa (docs/benchmarks.md, "Which kernels are
# counted"): under each setting, two counted runs of the quick CPU set (their counts, their
# counting time, and how far the second run's counts lie from the first's), and two runs of
# chapter_net's cases with a change planted (tests/plugins): one in torch's own code
# (blitz_plant_forward: a logcumsumexp in every forward pass) and one inside the convolution
# kernels' call path (blitz_plant_conv: the first convolution run again on an eighth of the batch).
# One run at a time; each saves under results/counting-isa/<setting>-<run>/.
#
#   bash results/counting-isa/measure.sh [SETTING ...]      (default: avx native)
#   bash results/counting-isa/summarize.sh                   the tables in results/counting-isa/README.md
set -euo pipefail
cd "$(dirname "$0")/../.."
out=results/counting-isa
python=${PYTHON:-.venv/bin/python}
settings=("$@")
[ $# -eq 0 ] && settings=(avx native)

count() {  # SETTING RUN [pytest options]
    local setting=$1 name=$2
    shift 2
    local folder=$out/$setting-$name
    if compgen -G "$folder/*_cpu.json" >/dev/null; then
        echo "kept: $folder (already measured)"
        return
    fi
    mkdir -p "$folder"
    local started=$SECONDS
    PYTHONPATH=tests/plugins "$python" -m pytest bench/test_throughput.py --benchmark-only --quick -q \
        -p no:cacheprovider --device cpu --instructions --counting-isa "$setting" --results-dir "$folder" "$@" \
        >"$folder/pytest.log" 2>&1
    echo "$setting $name: $((SECONDS - started)) s in all" | tee -a "$out/times.txt"
}

for setting in "${settings[@]}"; do
    count "$setting" first
    count "$setting" second
    count "$setting" planted-forward --models chapter_net -p blitz_plant_forward
    count "$setting" planted-conv --models chapter_net -p blitz_plant_conv
done
