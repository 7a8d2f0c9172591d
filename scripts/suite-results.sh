#!/usr/bin/env bash
# Every life the suite's published results come from (docs/src/results/), and one report of them
# all: the baselines, our PPO and DQN (on scent) on every track, and the five plasticity
# mitigations against none — PPO on `relearning` and `cyclical`, DQN on `cyclical`. A killed run,
# started again, goes on where each life stopped.
#
#   scripts/suite-results.sh OUT           # full length, 3 seeds: many hours of two cores
#   scripts/suite-results.sh --smoke OUT   # the CI version: smoke lengths, 2 seeds
#
# The lives land in OUT/lives, the report (report.md and a plot per track) in OUT. JOBS (2) lives
# run at once. BEANWORLD (default: a release build without the window, built here) lives them.
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE=()
SEEDS=3
if [ "${1:-}" = "--smoke" ]; then
  SMOKE=(--smoke)
  SEEDS=2
  shift
fi
OUT="${1:?usage: scripts/suite-results.sh [--smoke] OUT}"
# shellcheck source=lib/release-binary.sh
source scripts/lib/release-binary.sh

live() {
  "$BEANWORLD" suite run "$@" --seeds "$SEEDS" --jobs "${JOBS:-2}" "${SMOKE[@]}" --out "$OUT/lives"
}

# The settings of the 100,000-step sweep's best PPO (docs/src/learners.md).
PPO="log_scent: true, rollout: 128, explore: 0.05"
# DQN on scent, plain and shrunk and perturbed every 25,000 Adam steps (100,000 steps of the
# world): the best mitigation for it on `cyclical`, tried on every track (its lives on `cyclical`
# are lived once, for both commands).
DQN_SP="dqn-scent(shrink_perturb: (every: 25000))"
mapfile -t TRACKS < <("$BEANWORLD" suite list | awk '{print $1}')
live "${TRACKS[@]}" --learner greedy-visual --learner random --learner "ppo($PPO)" \
  --learner dqn-scent --learner "$DQN_SP"

# Each mitigation with one setting; shrink-and-perturb about once per task: every 390 updates of
# 128 steps on relearning (tasks of 50,000 steps), 780 on cyclical and 25,000 Adam steps (one
# every 4 steps) for DQN (tasks of 100,000 steps). ReDo every 1,000 Adam steps (PPO's update of
# 128 steps takes 4).
mitigated() { # learner, its base settings ("" or "…, "), shrink-and-perturb's and ReDo's periods
  for m in "shrink_perturb: (every: $3)" "l2_init: 0.001" "redo: (every: $4)" "layer_norm: true" \
    "continual_backprop: (replacement_rate: 1e-4)"; do
    printf -- '--learner\n%s(%s%s)\n' "$1" "$2" "$m"
  done
}
mapfile -t PPO_RELEARNING < <(mitigated ppo "$PPO, " 390 250)
mapfile -t PPO_CYCLICAL < <(mitigated ppo "$PPO, " 780 250)
mapfile -t DQN_CYCLICAL < <(mitigated dqn-scent "" 25000 1000)
live relearning "${PPO_RELEARNING[@]}"
live cyclical "${PPO_CYCLICAL[@]}" "${DQN_CYCLICAL[@]}"

"$BEANWORLD" suite report "$OUT/lives" --out "$OUT"
