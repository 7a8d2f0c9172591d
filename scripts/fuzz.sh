#!/usr/bin/env bash
# Fuzzing: builds the cargo-fuzz (libFuzzer) targets of fuzz/ and runs each for SECONDS on one
# core, its corpus seeded from the shipped files; exits non-zero if any target panics, hangs
# (an input over 10 s) or takes more than 2 GiB, naming the input it kept.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET (default 30)] [TARGET...]   (default: every target)
#
# FUZZ_RUNS=N stops a target after N inputs if that comes before its SECONDS (e.g. a long
# campaign: FUZZ_RUNS=10000000 scripts/fuzz.sh 3600).
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). On a stable toolchain RUSTC_BOOTSTRAP=1
# lets it pass its nightly flags. Targets are built without a sanitizer (the code is safe Rust:
# libFuzzer itself catches panics, hangs and memory) and with debug assertions, so an overflow
# panics as it does in the tests. Builds, corpora and crashing inputs live outside the checkout,
# under ~/.cache/beanworld: a corpus grows from run to run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

SECONDS_PER_TARGET="${1:-30}"
shift || true
ALL=(scenario snapshot attach agent_settings schedule action_log)
# Run only when named: snapshot states behind a right checksum, which loading checks only in
# part (patches and records, not agents; see fuzz/fuzz_targets/snapshot_state.rs).
ALSO=(snapshot_state)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")

CACHE="$HOME/.cache/beanworld"
# The main workspace's target folder (its `beanworld` binary makes the snapshot and view seeds).
MAIN_TARGET="${CARGO_TARGET_DIR:-$CACHE/target}"
export CARGO_TARGET_DIR="$CACHE/fuzz-target"
export RUSTC_BOOTSTRAP=1 CARGO_INCREMENTAL=0 CARGO_TERM_COLOR=never
FLAGS=(--sanitizer none --debug-assertions)
CORPORA="$CACHE/fuzz-corpus"
ARTIFACTS="$CACHE/fuzz-artifacts"

cd fuzz
cargo fuzz --version
cargo fuzz build "${FLAGS[@]}"

# Copies stdin into corpus $1 under its content's hash (so seeding twice adds nothing).
seed() {
  local tmp
  tmp="$(mktemp)"
  cat >"$tmp"
  if [ -s "$tmp" ]; then
    mv "$tmp" "$CORPORA/$1/seed-$(sha1sum "$tmp" | cut -c1-16)"
  else
    rm -f "$tmp"
  fi
}

# The `beanworld` binary of this checkout (a snapshot of another build may be of another format):
# $BEANWORLD_BIN, or the main workspace's debug build, brought up to date (a no-op after the tests).
BIN="${BEANWORLD_BIN:-$MAIN_TARGET/debug/beanworld}"
if [ -z "${BEANWORLD_BIN:-}" ] && [[ " ${TARGETS[*]} " =~ \ (snapshot|snapshot_state|attach|action_log)\  ]]; then
  # Without RUSTC_BOOTSTRAP: rustc records it as an input of every crate, so building the main
  # target with it would rebuild everything there now and again at the next plain build.
  (cd "$ROOT" && CARGO_TARGET_DIR="$MAIN_TARGET" env -u RUSTC_BOOTSTRAP cargo build --locked --workspace --bin beanworld)
fi
beanworld() { "$BIN" "$@"; }

WORK="$(mktemp -d)"
export BEANWORLD_FUZZ_TMP="$WORK"  # where the snapshot targets write their inputs
RUN_PID=""
cleanup() {
  [ -z "$RUN_PID" ] || kill "$RUN_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

for target in "${TARGETS[@]}"; do
  mkdir -p "$CORPORA/$target" "$ARTIFACTS/$target"
  case "$target" in
    scenario)
      for f in "$ROOT"/scenarios/*.ron "$ROOT"/scenarios/*/*.ron "$ROOT"/fuzz/seeds/snapshot.ron \
        "$ROOT"/fuzz/seeds/scenario/*; do
        seed scenario <"$f"
      done
      ;;
    action_log)
      # Logs of the tiny scenario's run: a short one (one frame) and a longer one.
      for steps in 3 300; do
        beanworld run "$ROOT/fuzz/seeds/snapshot.ron" --steps "$steps" --record-actions "$WORK/run.actions" \
          --out "$WORK/log" >/dev/null
        seed action_log <"$WORK/run.actions"
      done
      ;;
    snapshot | snapshot_state)
      # A few steps of the target's own tiny scenario, snapshots every 10 steps.
      beanworld run "$ROOT/fuzz/seeds/snapshot.ron" --steps 30 --snapshot-every 10 \
        --out "$WORK/snapshot" >/dev/null
      for f in "$WORK"/snapshot/snapshots/*; do
        seed "$target" <"$f"
      done
      ;;
    attach)
      # Real frames: what a run serving views sends a viewer that wants the cells around the
      # origin (postcard: Want, region -8..8 zigzagged, follow 1, scent 0, no visual field).
      beanworld run "$ROOT/fuzz/seeds/snapshot.ron" --steps 100000000 --serve 0 \
        --out "$WORK/serve" 2>"$WORK/serve.log" >/dev/null &
      RUN_PID=$!
      addr=""
      for _ in $(seq 100); do
        addr="$(sed -n 's/^serving views on \([^ ]*\) .*/\1/p' "$WORK/serve.log")"
        [ -z "$addr" ] || break
        sleep 0.1
      done
      if [ -n "$addr" ] && (
        exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}"
        printf '\x08\x00\x00\x00\x00\x0f\x0f\x10\x10\x01\x00\x00' >&3
        timeout 1 cat <&3 || true
      ) >"$WORK/frames" && [ -s "$WORK/frames" ]; then
        tail -c +9 "$WORK/frames" | head -c 65536 | seed attach
      else
        echo "fuzz.sh: no run to take view frames from; the attach corpus starts without them" >&2
      fi
      kill "$RUN_PID" 2>/dev/null || true
      wait "$RUN_PID" 2>/dev/null || true
      RUN_PID=""
      ;;
    agent_settings)
      cp "$ROOT"/fuzz/seeds/agent_settings/* "$CORPORA/$target/"
      grep -h -o 'Agent("[^"]*")' "$ROOT"/scenarios/*.ron "$ROOT"/scenarios/*/*.ron | sort -u \
        | while read -r agent; do
          agent="${agent#Agent(\"}"
          printf '%s' "${agent%\")}" | seed agent_settings
        done
      ;;
    schedule)
      cp "$ROOT"/fuzz/seeds/schedule/* "$CORPORA/$target/"
      # Every `task:`, `SetTask(…)` and `dynamics:` written in the shipped scenarios, and every
      # parameter path, each prefixed with the target's byte for the way it is read.
      python3 - "$CORPORA/$target" "$ROOT"/scenarios/*.ron "$ROOT"/scenarios/*/*.ron <<'EOF'
import hashlib, re, sys

def value_at(text, i):
    """The RON value starting at i: up to the comma or bracket that closes it."""
    depth, j, start = 0, i, i
    while j < len(text):
        c = text[j]
        if c == '"':
            j = text.index('"', j + 1)
        elif text.startswith("//", j):
            j = text.index("\n", j)
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif c == "," and depth == 0:
            break
        j += 1
    return re.sub(r"//[^\n]*", "", text[start:j]).strip()

out = sys.argv[1]
for path in sys.argv[2:]:
    text = open(path).read()
    seeds = []
    for m in re.finditer(r"\btask:\s*", text):
        seeds += ["0" + value_at(text, m.end()), "2" + value_at(text, m.end())]
    for m in re.finditer(r"\bSetTask\(", text):
        seeds.append("0" + value_at(text, m.end()))
    for m in re.finditer(r"\bdynamics:\s*", text):
        seeds.append("3" + value_at(text, m.end()))
    seeds += ["1" + p for p in re.findall(r'\bparam:\s*"([^"]*)"', text)]
    for s in seeds:
        name = "seed-" + hashlib.sha1(s.encode()).hexdigest()[:16]
        open(f"{out}/{name}", "w").write(s)
EOF
      ;;
    *)
      echo "fuzz.sh: unknown target $target (targets: ${ALL[*]} ${ALSO[*]})" >&2
      exit 2
      ;;
  esac
done

failed=()
for target in "${TARGETS[@]}"; do
  echo "== $target: $SECONDS_PER_TARGET s, corpus $CORPORA/$target ($(ls "$CORPORA/$target" | wc -l) inputs)"
  if ! cargo fuzz run "${FLAGS[@]}" "$target" "$CORPORA/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$target/" 2>"$WORK/$target.log"; then
    failed+=("$target")
    # The panic's message and place first (the backtrace below can push it out of a CI log).
    grep -m1 -A1 'panicked at' "$WORK/$target.log" || true
    tail -n 40 "$WORK/$target.log"
    echo "fuzz.sh: $target failed; the input is in $ARTIFACTS/$target/ (reproduce with:" \
      "RUSTC_BOOTSTRAP=1 cargo fuzz run ${FLAGS[*]} $target FILE, in fuzz/)" >&2
  else
    grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec|^Done' "$WORK/$target.log" || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: ${TARGETS[*]}: no crash"
