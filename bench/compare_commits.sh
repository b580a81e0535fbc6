#!/usr/bin/env bash
# Benchmarks of an earlier commit and of this tree, run alternately on the same machine (earlier first), each side
# with its own package and bench scripts: what a restructuring that should change no speed is checked with.
# Usage: bash bench/compare_commits.sh REV            (REV: a commit, e.g. the last release)
# Prints each benchmark's last lines, side by side in time; the earlier tree is a temporary git worktree, removed after.
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bash bench/compare_commits.sh REV" >&2; exit 2; }
rev=$(git rev-parse --verify --quiet "$1^{commit}") \
    || { echo "compare_commits: $1 is not a commit of this repository" >&2; exit 2; }
old=$(mktemp -d)
trap 'git worktree remove --force "$old" > /dev/null 2>&1; rm -rf "$old"' EXIT
git worktree add --detach -q "$old" "$rev" || exit 1
echo "machine: $(cd bench && python -c 'from _fresh import cpu_line; print(", ".join(cpu_line()))')"
run() { # a benchmark and its arguments, on both sides
  for side in "$rev" "this tree"; do
    dir=$old; [ "$side" = "this tree" ] && dir=$PWD
    echo "== $side: python bench/$* ($(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg))"
    (cd "$dir" && PYTHONPATH="$dir" python "bench/$1" "${@:2}" 2>&1 | tail -8)
  done
}
run bench_data.py
run bench_synthetic.py
run bench_preprocess.py --skip-monai --repeat 3
run bench_cache.py --repeat 5
run bench_evaluation.py --rounds 3
run bench_explain.py --volumes 8 --occ-volumes 1 --repeats 1 --skip-monai --skip-bf16
