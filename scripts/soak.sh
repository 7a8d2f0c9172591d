#!/usr/bin/env bash
# Soak benchmark: never-ending runs must keep disk and memory bounded. For each case it runs the
# scenario for a reference length and for the full length (each run from scratch, snapshots on a
# cadence, the newest three kept), and checks that the full run wrote at most MAX_MB megabytes in
# all and kept its peak resident memory within 1.2× of the reference run's. Prints a Markdown
# table (docs/src/long-runs.md's) and exits non-zero if a case fails.
#
#   scripts/soak.sh            # the full soak: crowd 10⁸ steps, seasons and a learner 10⁷
#   scripts/soak.sh --short    # the CI version: the same checks on short runs
#   SOAK_CASES="scenarios/crowd.ron 1000000 10000000 1000000; ..." scripts/soak.sh
#                              # other cases: scenario, reference steps, full steps, snapshot cadence
#
# BEANWORLD (default: a release build without the window, built here) is the binary measured.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_MB=100
if [ "${1:-}" = "--short" ]; then
  # scenario, reference steps, full steps, snapshot cadence. The reference must be past the
  # warm-up, when the walkers' ground first fills the patch cache and the allocator's pools:
  # the crowd's peak RSS (debug build) is 44 MiB at 5,000 steps, 56 at 20,000, 55 at 50,000 and
  # 60 at 150,000 (release: 31, 37, 40 and 40 MiB at 2·10⁴, 1.5·10⁵, 5·10⁵ and 1.5·10⁶).
  CASES=(
    "scenarios/crowd.ron 20000 100000 10000"
    "scenarios/seasons.ron 20000 200000 50000"
  )
else
  CASES=(
    "scenarios/crowd.ron 1000000 100000000 10000000"
    "scenarios/seasons.ron 1000000 10000000 1000000"
    "scenarios/experiments/paper-scent.ron 1000000 10000000 1000000"
  )
fi

if [ -n "${SOAK_CASES:-}" ]; then
  IFS=';' read -ra CASES <<<"$SOAK_CASES"
fi

# shellcheck source=lib/release-binary.sh
source scripts/lib/release-binary.sh
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Runs the binary with the given arguments; prints "peak_rss_kib seconds".
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
start = time.monotonic()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, round(time.monotonic() - start, 1))
PY
}

failed=0
echo "| scenario | steps | disk (MB) | peak RSS (MiB) | RSS at reference | ratio | steps/s | ok |"
echo "|---|---|---|---|---|---|---|---|"
for case in "${CASES[@]}"; do
  read -r scenario reference full every <<<"$case"
  read -r ref_rss _ < <(measure "$BEANWORLD" run "$scenario" --steps "$reference" \
    --snapshot-every "$every" --out "$WORK/reference")
  read -r rss seconds < <(measure "$BEANWORLD" run "$scenario" --steps "$full" \
    --snapshot-every "$every" --out "$WORK/full")
  bytes=$(du -sb "$WORK/full" | cut -f1)
  read -r mb ratio ok rate < <(python3 -c "
bytes, rss, ref, full, secs, cap = $bytes, $rss, $ref_rss, $full, $seconds, $MAX_MB
ratio = rss / ref
ok = bytes <= cap * 1e6 and ratio <= 1.2
print(f'{bytes / 1e6:.1f} {ratio:.2f} {\"yes\" if ok else \"NO\"} {full / max(secs, 1e-9):.0f}')")
  echo "| $scenario | $full | $mb | $((rss / 1024)) | $((ref_rss / 1024)) | $ratio | $rate | $ok |"
  [ "$ok" = yes ] || failed=1
  rm -rf "$WORK/reference" "$WORK/full"
done
exit "$failed"
