#!/usr/bin/env bash
# Compares the speed of two `beanworld` binaries on the same cases, alternating them run by run
# (A B B A …) so that a machine getting slower or faster touches both alike, and prints the
# median of each case for each binary and their ratio.
#
#   scripts/compare-bench.sh OLD_BINARY NEW_BINARY [RUNS]     (RUNS: 5 by default)
#
# The cases are those a refactor must not slow: turning and walking on v0 and on the paper's
# world, and 64 vectorized v0 worlds walking, meeting every step as a learner drives them and
# running freely (the first as a share of the second is what `VecEnv` costs a learner).
set -euo pipefail
cd "$(dirname "$0")/.."

old=${1:?usage: compare-bench.sh OLD_BINARY NEW_BINARY [RUNS]}
new=${2:?usage: compare-bench.sh OLD_BINARY NEW_BINARY [RUNS]}
runs=${3:-5}

cases=(
  "v0 turn|scenarios/jbw-v0.ron --policy turn --steps 2000000"
  "v0 walk|scenarios/jbw-v0.ron --policy walk --steps 100000"
  "paper turn|scenarios/jbw-paper.ron --policy turn --steps 2000000"
  "paper walk|scenarios/jbw-paper.ron --policy walk --steps 100000"
  "v0 64 worlds walk, per step|scenarios/jbw-v0.ron --policy walk --steps 20000 --worlds 64 --threads 2 --per-step"
  "v0 64 worlds walk, freely|scenarios/jbw-v0.ron --policy walk --steps 20000 --worlds 64 --threads 2"
)

# One run: prints agent-steps per second.
measure() {
  "$1" bench $2 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["agent_steps_per_sec"])'
}

# shellcheck source=lib/alternate.sh
source scripts/lib/alternate.sh

printf '%-30s %14s %14s %7s\n' "case (agent-steps/s)" "old" "new" "new/old"
for case in "${cases[@]}"; do
  name=${case%%|*}
  args=${case#*|}
  run_old() { measure "$old" "$args"; }
  run_new() { measure "$new" "$args"; }
  alternate "$runs" run_old run_new
  ma=$(printf '%s\n' "${a[@]}" | median)
  mb=$(printf '%s\n' "${b[@]}" | median)
  printf '%-30s %14.0f %14.0f %7.3f\n' "$name" "$ma" "$mb" "$(awk -v a="$ma" -v b="$mb" 'BEGIN { print b / a }')"
done
