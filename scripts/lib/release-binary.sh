# Sourced by the measuring scripts (soak, learner-bench, learner-sweep) from the repository root:
# sets BEANWORLD to the binary to measure — as given, or a release build without the window,
# built here into the cargo target directory.
if [ -z "${BEANWORLD:-}" ]; then
  cargo build --release --locked -p beanworld --no-default-features >&2
  BEANWORLD="${CARGO_TARGET_DIR:-$HOME/.cache/beanworld/target}/release/beanworld"
fi
