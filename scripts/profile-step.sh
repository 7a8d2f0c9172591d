#!/usr/bin/env bash
# Where a walking step's time goes: `perf record` on `beanworld bench` (the walk policy) for JBW's
# classic world with one agent and with 64, and for the paper's world, and the samples summed by
# the part of the step their function belongs to, as a Markdown table (docs/src/performance.md).
#
#   scripts/profile-step.sh
#
# BEANWORLD (default: a release build without the window, built here) is the binary measured;
# perf must be able to record here (`perf record true`).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/release-binary.sh
source scripts/lib/release-binary.sh

CASES=(
  "scenarios/jbw-v0.ron|1 agent|--steps 400000"
  "scenarios/jbw-v0.ron|64 agents|--agents 64 --steps 40000"
  "scenarios/jbw-paper.ron|1 agent|--steps 200000"
)
DATA="$(mktemp -d)"
trap 'rm -rf "$DATA"' EXIT

# The part of the step a function is in, by its name.
part() {
  awk '
    /Sampler::|sampler::|refill_wide|__expf|World::generate|World::plan_one|pristine|generated_cells/ { p = "generation"; }
    /gather_scent|scent_at|ScentTable|add_item/                                { p = "scent"; }
    /VisionTables|::observe|window_rows|buckets|Buckets/                       { p = "vision"; }
    /check_actions|generate_destinations|resolve_moves|move_agents|collect_items|::reward|apply_dynamics|Simulation>::step/ { p = "moves, collection, reward"; }
    { print p == "" ? "other" : p; p = ""; }'
}

echo "| world | agents | steps/s | generation | scent | vision | moves, collection, reward | other |"
echo "|---|---|---|---|---|---|---|---|"
for case in "${CASES[@]}"; do
  IFS='|' read -r scenario agents args <<<"$case"
  # shellcheck disable=SC2086 # the arguments are words
  speed="$(perf record -F 999 -g -o "$DATA/perf.data" "$BEANWORLD" bench "$scenario" $args --json 2>/dev/null \
    | sed -n 's/.*"steps_per_sec":\([0-9.]*\).*/\1/p')"
  perf report -i "$DATA/perf.data" --no-children --sort symbol --stdio 2>/dev/null \
    | awk '/^ +[0-9.]+%/ { share = $1; sub(/%/, "", share); $1 = ""; $2 = ""; print share "\t" $0 }' \
    > "$DATA/shares"
  cut -f2 "$DATA/shares" | part > "$DATA/parts"
  row="$(paste "$DATA/parts" <(cut -f1 "$DATA/shares") | awk -F'\t' '
    { sum[$1] += $2 }
    END { printf "%.0f%% | %.0f%% | %.0f%% | %.0f%% | %.0f%%", sum["generation"], sum["scent"], sum["vision"],
          sum["moves, collection, reward"], sum["other"] }')"
  printf '| %s | %s | %.0f | %s |\n' "$(basename "$scenario" .ron)" "$agents" "${speed:-0}" "$row"
done
