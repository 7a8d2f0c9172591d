#!/usr/bin/env bash
# Learner speed: env-steps per second of PPO, updates included, for one stream through the step
# channel and for a batched learner over many worlds; each case run REPEAT times (default 5),
# the median printed as a Markdown row (docs/src/learners.md, "Many worlds learning as one").
#
#   scripts/learner-bench.sh                 # the cases of docs/src/learners.md
#   REPEAT=3 scripts/learner-bench.sh        # fewer repeats
#   LEARNER_CASES="SCENARIO|STEPS|ARGS…;…" scripts/learner-bench.sh   # other cases
#   BASELINE=OLD_BINARY scripts/learner-bench.sh   # OLD and BEANWORLD side by side, their ratio
#
# BEANWORLD (default: a release build without the window, built here) is the binary measured.
# With BASELINE, each case runs the two binaries alternately (A B B A …), so that a machine
# getting slower or faster touches both alike; the shares are BEANWORLD's.
set -euo pipefail
cd "$(dirname "$0")/.."

REPEAT="${REPEAT:-5}"
CASES=(
  "scenarios/experiments/paper-vision-scent.ron|3000|--agent ppo"
  "scenarios/experiments/paper-vision-scent.ron|3000|--learner ppo"
  "scenarios/experiments/paper-vision-scent.ron|1100|--learner ppo --worlds 64"
  "scenarios/experiments/paper-vision-scent.ron|300|--learner ppo(rollout:128,minibatch:1024) --worlds 64"
  "scenarios/jbw-v0.ron|20000|--agent ppo-scent"
  "scenarios/jbw-v0.ron|1100|--learner ppo-scent --worlds 64"
  "scenarios/jbw-v0.ron|300|--learner ppo-scent(rollout:128,minibatch:1024) --worlds 64"
)
if [ -n "${LEARNER_CASES:-}" ]; then
  IFS=';' read -ra CASES <<<"$LEARNER_CASES"
fi
# shellcheck source=lib/release-binary.sh
source scripts/lib/release-binary.sh
# shellcheck source=lib/alternate.sh
source scripts/lib/alternate.sh

if [ -n "${BASELINE:-}" ]; then
  echo "| scenario | learner | steps | env-steps/s, baseline (median of $REPEAT) | env-steps/s (median of $REPEAT) | ratio | worlds / acting / updates |"
  echo "|---|---|---|---|---|---|---|"
else
  echo "| scenario | learner | steps | env-steps/s (median of $REPEAT) | worlds / acting / updates |"
  echo "|---|---|---|---|---|"
fi
for case in "${CASES[@]}"; do
  IFS='|' read -r scenario steps args <<<"$case"
  read -ra argv <<<"$args"
  run_new() { "$BEANWORLD" bench "$scenario" --steps "$steps" --json "${argv[@]}"; }
  run_old() { "$BASELINE" bench "$scenario" --steps "$steps" --json "${argv[@]}"; }
  if [ -n "${BASELINE:-}" ]; then
    alternate "$REPEAT" run_old run_new
    old=("${a[@]}") runs=("${b[@]}")
  else
    old=() runs=()
    for _ in $(seq "$REPEAT"); do
      runs+=("$(run_new)")
    done
  fi
  { printf '%s\n' "${runs[@]}"; printf 'old %s\n' "${old[@]+"${old[@]}"}"; } | python3 -c "
import json, statistics, sys
runs, old = [], []
for line in sys.stdin:
    if line.startswith('old '):
        if line[4:].strip():
            old.append(json.loads(line[4:]))
    elif line.strip():
        runs.append(json.loads(line))
rate = statistics.median(r['agent_steps_per_sec'] for r in runs)
mid = sorted(runs, key=lambda r: r['agent_steps_per_sec'])[len(runs) // 2]
t = mid.get('learner')
share = '—'
if t:
    total = t['env_seconds'] + t['act_seconds'] + t['update_seconds']
    share = ' / '.join(f\"{100 * t[k] / total:.0f}%\" for k in ('env_seconds', 'act_seconds', 'update_seconds'))
if old:
    base = statistics.median(r['agent_steps_per_sec'] for r in old)
    print(f\"| \`$scenario\` | \`$args\` | $steps | {base:,.0f} | {rate:,.0f} | {rate / base:.2f} | {share} |\")
else:
    print(f\"| \`$scenario\` | \`$args\` | $steps | {rate:,.0f} | {share} |\")"
done
