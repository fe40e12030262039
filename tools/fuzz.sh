#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS (default 60, at most 60) each.
# Usage: tools/fuzz.sh [SECONDS]
#
# With `cargo +nightly` the targets run under AddressSanitizer; without it,
# on stable with `--sanitizer none` (cargo-fuzz 0.13 builds and runs that
# way: coverage instrumentation needs no nightly flag, only the sanitizers
# do). Without cargo-fuzz it skips with a message: the seed corpus still
# runs on stable in `cargo test --test fuzz_corpus`.
#
# New inputs libFuzzer finds go to a scratch directory, not to the seed
# corpus; a crash leaves its input in fuzz/artifacts/<target>/ and fails
# the script. Copy an input into fuzz/corpus/<target>/ to keep it as a seed.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECONDS_EACH=${1:-60}
if [ "$SECONDS_EACH" -gt 60 ]; then SECONDS_EACH=60; fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: skipped (cargo-fuzz is not installed: cargo install cargo-fuzz)"
  exit 0
fi
if cargo +nightly --version >/dev/null 2>&1; then
  run=(cargo +nightly fuzz run --sanitizer address)
  how="nightly, AddressSanitizer"
else
  run=(cargo fuzz run --sanitizer none)
  how="stable, no sanitizer"
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
passed=0
failed=0
for target in $(cargo fuzz list); do
  mkdir -p "$scratch/$target"
  echo "== fuzz $target for ${SECONDS_EACH}s ($how)"
  # -rss_limit_mb: a decoder must not need more than this for any input.
  if "${run[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 2>"$scratch/$target.log"; then
    grep -E "^Done|stat::number_of_executed_units" "$scratch/$target.log" || true
    passed=$((passed + 1))
  else
    tail -40 "$scratch/$target.log"
    echo "fuzz $target FAILED: see fuzz/artifacts/$target/"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
