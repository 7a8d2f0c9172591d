#!/usr/bin/env bash
# Compares the speed of Jelly Bean World's own C++ core (the reference implementation) with a
# `beanworld` binary on the same cases in the same run, alternating them run by run (A B B A …)
# so that a machine getting slower or faster touches both alike, and prints a Markdown table of
# the medians: agent-steps per second for each, their ratio (beanworld / JBW), and the first step
# (making the world through the agents' first step) in seconds for each.
#
#   JBW_SRC=DIR scripts/jbw-compare.sh BEANWORLD_BINARY [RUNS]     (RUNS: 5 by default)
#
# DIR holds JBW's headers as their includes expect them: DIR/jbw/*.h (eaplatanios/jelly-bean-world),
# DIR/core/*.h (asaparov/core) and DIR/math/log.h (asaparov/math); xxhash.h comes from the system
# (Debian: libxxhash-dev). They are not part of this repository. scripts/jbw/jbw-bench.cpp, our
# harness, is built against them here as JBW's release builds are (-O3, -DNDEBUG, -march=native).
#
# Cases: turning (1 agent), walking (1 agent, forward 80%, left/right 10% each), and 64 agents
# walking, on JBW's gym JBW-v0 world (Python make_config(), spec §8.2, against
# scenarios/jbw-v0.ron) and on the paper's world (spec §8.3, against scenarios/jbw-paper.ron). A
# walk runs the same number of steps on both sides, since the share of steps that enter new
# territory falls as a walk goes on; turning does the same work every step, so each side turns for
# about as long as the other needs. SKIP_PAPER=1 leaves the paper's world out (each JBW run of it
# first spends ~15 s generating the world around the agent); STEP_DIVISOR=N divides every step
# count by N (for a quick check that the script works; the figures then mean little).
# JBW runs on one thread, so beanworld is given one too (--generation-threads 1; perception is
# on one thread by default); GENERATION_THREADS=N gives it N to sample new patches with.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:?usage: JBW_SRC=DIR jbw-compare.sh BEANWORLD_BINARY [RUNS]}
runs=${2:-5}
src=${JBW_SRC:?set JBW_SRC to the directory holding jbw/, core/ and math/}
divisor=${STEP_DIVISOR:-1}
generation_threads=${GENERATION_THREADS:-1}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
g++ -O3 -march=native -std=c++17 -DNDEBUG -pthread -I"$src" scripts/jbw/jbw-bench.cpp -o "$tmp/jbw-bench"

# name | JBW arguments | JBW steps | beanworld arguments | beanworld steps
cases=(
  "v0 turn|--world v0 --policy turn|500000|scenarios/jbw-v0.ron --policy turn|20000000"
  "v0 walk|--world v0 --policy walk|50000|scenarios/jbw-v0.ron --policy walk|50000"
  "v0 walk, 64 agents|--world v0 --policy walk --agents 64|2000|scenarios/jbw-v0.ron --policy walk --agents 64|2000"
)
if [ "${SKIP_PAPER:-0}" != 1 ]; then
  cases+=(
    "paper turn|--world paper --policy turn|300000|scenarios/jbw-paper.ron --policy turn|20000000"
    "paper walk|--world paper --policy walk|5000|scenarios/jbw-paper.ron --policy walk|5000"
  )
fi

steps() { echo $(($1 / divisor > 2 ? $1 / divisor : 2)); }

# One run of each side: prints "agent-steps/s first-step-seconds" (JBW's JSON line is kept).
jbw() {
  "$tmp/jbw-bench" $1 --steps "$(steps "$2")" | tee "$tmp/last.json" |
    python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["agent_steps_per_sec"], j["first_step_s"])'
}
ours() {
  "$bin" bench $1 --steps "$(steps "$2")" --generation-threads "$generation_threads" --json |
    python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["agent_steps_per_sec"], j["first_step_seconds"])'
}

# shellcheck source=lib/alternate.sh
source scripts/lib/alternate.sh

echo "| case | JBW agent-steps/s | beanworld agent-steps/s | ratio | JBW first step (s) | beanworld first step (s) |"
echo "|---|---:|---:|---:|---:|---:|"
notes=()
for case in "${cases[@]}"; do
  IFS='|' read -r name jbw_args jbw_steps our_args our_steps <<< "$case"
  run_jbw() { jbw "$jbw_args" "$jbw_steps"; }
  run_ours() { ours "$our_args" "$our_steps"; }
  alternate "$runs" run_jbw run_ours
  ja=$(printf '%s\n' "${a[@]}" | cut -d' ' -f1 | median)
  jf=$(printf '%s\n' "${a[@]}" | cut -d' ' -f2 | median)
  ba=$(printf '%s\n' "${b[@]}" | cut -d' ' -f1 | median)
  bf=$(printf '%s\n' "${b[@]}" | cut -d' ' -f2 | median)
  awk -v n="$name" -v ja="$ja" -v ba="$ba" -v jf="$jf" -v bf="$bf" \
    'BEGIN { printf "| %s | %.0f | %.0f | %.1f | %.3f | %.3f |\n", n, ja, ba, ba / ja, jf, bf }'
  notes+=("$name: $(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["items_per_cell"]))' "$tmp/last.json")")
done
echo
echo "Items per cell in the patches JBW fixed (last run of each case; compare with spec §12.3):"
printf -- '- %s\n' "${notes[@]}"
