#!/usr/bin/env bash
# GPU figures in one call, for a lent GPU machine (see ../shared/GPU.md): batched vision for
# 4k, 16k and 65k agents in v0 (GPU and CPU path in the same run) and 1080p frames per second.
# Builds nothing: it runs the release binary carried at $BIN (default .gpu/beanworld), and writes
# one JSON line per figure to $OUT/figures.jsonl (or ./gpu-figures.jsonl without $OUT).
#
# Here:   cargo build --release -p beanworld --no-default-features && mkdir -p .gpu && cp target/release/beanworld .gpu/
#         (without the viewer: bevy is not needed there)
#         (with the loader packages in .gl/ as GPU.md shows)
# There:  scripts/gpu-figures.sh            (carry .gpu and .gl)
# Locally on the software adapter: AGENTS="1024 4096" STEPS=5 scripts/gpu-figures.sh
set -euo pipefail
BIN=${BIN:-.gpu/beanworld}
AGENTS=${AGENTS:-"4096 16384 65536"}
STEPS=${STEPS:-20}
FILE=${OUT:-.}/$( [ -n "${OUT:-}" ] && echo figures.jsonl || echo gpu-figures.jsonl )
if [ -d .gl ] && ls .gl/*.deb >/dev/null 2>&1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
    export WGPU_BACKEND=${WGPU_BACKEND:-vulkan}
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
: > "$FILE"
for n in $AGENTS; do
    "$BIN" bench scenarios/jbw-v0.ron --policy walk --vision gpu --agents "$n" --steps "$STEPS" --json | tee -a "$FILE"
done
"$BIN" bench scenarios/jbw-paper.ron --policy walk --frames 1920x1080 --steps "$((STEPS * 5))" --json | tee -a "$FILE"
echo "figures in $FILE"
