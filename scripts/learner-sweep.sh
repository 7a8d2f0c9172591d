#!/usr/bin/env bash
# A sweep of learner settings: each setting trained with `run --worlds` for each seed, one run at
# a time, then a Markdown table of the final reward rate (last min(10^6, steps/10) steps) and the
# rate over the whole run, per setting: the seeds' mean and each seed's value.
#
#   scripts/learner-sweep.sh [OUT (default sweep-out)]
#   SCENARIO=scenarios/experiments/paper-vision-scent.ron STEPS=20000 WORLDS=16 SEEDS="0 100" \
#   SETTINGS='ppo;ppo(log_scent: true);ppo(entropy_weight: 0.03)' scripts/learner-sweep.sh
#
# A run whose summary.json exists is not run again, so a stopped sweep picks up where it was.
# JOBS runs (default 1) train at once, each on THREADS threads (default 1).
# BEANWORLD (default: a release build without the window, built here) is the binary run.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${1:-sweep-out}"
SCENARIO="${SCENARIO:-scenarios/experiments/paper-vision-scent.ron}"
STEPS="${STEPS:-20000}"
WORLDS="${WORLDS:-16}"
SEEDS="${SEEDS:-0}"
THREADS="${THREADS:-1}"
JOBS="${JOBS:-1}"
IFS=';' read -ra SETTINGS <<<"${SETTINGS:-ppo;ppo(log_scent: true)}"
# shellcheck source=lib/release-binary.sh
source scripts/lib/release-binary.sh
mkdir -p "$OUT"

# The folder of one run: the setting's text made safe for a file name.
folder() { printf '%s/%s-seed%s' "$OUT" "$(printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '_')" "$2"; }

# Trains one setting for one seed into its folder, unless it is there already.
train() {
  local dir
  dir="$(folder "$1" "$2")"
  [ -f "$dir/summary.json" ] && return 0
  echo "== $1, seed $2" >&2
  "$BEANWORLD" run "$SCENARIO" --agent "$1" --worlds "$WORLDS" --steps "$STEPS" --seed "$2" \
    --agent-threads "$THREADS" --out "$dir" >"$dir.log" 2>&1 || { cat "$dir.log" >&2; return 1; }
}

failed=0
for setting in "${SETTINGS[@]}"; do
  for seed in $SEEDS; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || failed=1; done
    train "$setting" "$seed" &
  done
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || failed=1; done
[ "$failed" = 0 ] || { echo "a run failed" >&2; exit 1; }

echo "$SCENARIO, $WORLDS worlds, $STEPS steps each (reward per stream and step)"
echo
echo "| setting | final rate (mean) | rate over the run (mean) | final rate per seed | env-steps/s |"
echo "|---|---|---|---|---|"
for setting in "${SETTINGS[@]}"; do
  dirs=()
  for seed in $SEEDS; do dirs+=("$(folder "$setting" "$seed")"); done
  python3 - "$setting" "${dirs[@]}" <<'EOF'
import json, statistics, sys
setting, dirs = sys.argv[1], sys.argv[2:]
runs = [json.load(open(f"{d}/summary.json")) for d in dirs]
final = [r["final_reward_rate"] for r in runs]
whole = [r["reward_rate"] for r in runs]
speed = statistics.median(r["env_steps_per_sec"] for r in runs)
print(f"| `{setting}` | {statistics.mean(final):.4f} | {statistics.mean(whole):.4f} | "
      f"{', '.join(f'{x:.4f}' for x in final)} | {speed:.0f} |")
EOF
done
