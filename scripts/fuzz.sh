#!/usr/bin/env bash
# Runs each cargo-fuzz target in fuzz/ for SECONDS (default 120), one after the other, on the
# stable toolchain (libFuzzer without a sanitizer: `--sanitizer none` needs no nightly).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    SECONDS=0 only builds the targets
#
# Builds go to $COMBIPAT_FUZZ_TARGET_DIR (default ~/.cache/combipat/fuzz-target), away from
# the main target directory. Each target starts from its seeds in fuzz/corpus/<target>/ (read
# only) and keeps what it learns in ~/.cache/combipat/fuzz-corpus/<target>/, so the committed
# seeds stay as written. A failing input lands in fuzz/artifacts/<target>/; the script goes on
# with the other targets and exits non-zero at the end if any target failed.
set -euo pipefail

seconds="${1:-120}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 [SECONDS] [TARGET...]" >&2
    exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${HOME}/.cache/combipat"
export CARGO_TARGET_DIR="${COMBIPAT_FUZZ_TARGET_DIR:-$cache/fuzz-target}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi

cd "$root/fuzz"
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# Stable rustc: no `-Z` flag may reach it, so no sanitizer (and no build-std).
build=(--sanitizer none --target-dir "$CARGO_TARGET_DIR")
if [ "$#" -gt 0 ]; then
    for target in "${targets[@]}"; do
        cargo fuzz build "${build[@]}" "$target"
    done
else
    cargo fuzz build "${build[@]}"
fi
if [ "$seconds" -eq 0 ]; then
    echo "built: ${targets[*]}"
    exit 0
fi

logs="$cache/fuzz-logs"
mkdir -p "$logs"
failed=()
for target in "${targets[@]}"; do
    work="$cache/fuzz-corpus/$target"
    mkdir -p "$work" "artifacts/$target"
    echo "== $target: ${seconds}s (log: $logs/$target.log)"
    # The first corpus directory receives new inputs; the seeds are only read.
    if cargo fuzz run "${build[@]}" "$target" "$work" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/" >"$logs/$target.log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
            "$logs/$target.log" || true
    else
        failed+=("$target")
        grep -E 'panicked at|^SUMMARY|Test unit written|==ERROR' "$logs/$target.log" || tail -n 20 "$logs/$target.log"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "failed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "no failure in ${targets[*]}"
