#!/usr/bin/env bash
# Run the fuzz targets (issue 10). Used by `make fuzz` and `make fuzz-smoke`.
#
#   fuzz/run.sh smoke SECONDS [TARGET...]  every committed seed, then SECONDS of fuzzing per
#                                          target into a throw-away corpus
#   fuzz/run.sh long  SECONDS [TARGET...]  SECONDS per target (at most FUZZ_RUNS executions),
#                                          growing fuzz/corpus/TARGET (not committed)
#
# Fails if any target crashes or breaks a property (the input is kept in fuzz/artifacts/).
# Prints one summary line per target: executions, coverage (libFuzzer `cov:`), corpus size.
# Needs cargo-fuzz (installed when missing) and either a nightly toolchain or, failing that,
# the stable one with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs unstable compiler flags).
set -euo pipefail
cd "$(dirname "$0")"

ALL=(config http_response json_reply sanitize proxy netaddr http_date groups gecos)
mode=${1:?usage: run.sh smoke|long SECONDS [TARGET...]}
secs=${2:?usage: run.sh smoke|long SECONDS [TARGET...]}
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL[@]}")
runs=${FUZZ_RUNS:-10000000}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz not found: installing it" >&2
    cargo install cargo-fuzz --locked
fi
toolchain=()
if rustup run nightly rustc --version >/dev/null 2>&1; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
# -a: debug assertions and overflow checks on, so an arithmetic overflow is a crash.
# FUZZ_SANITIZER=none is several times faster; AddressSanitizer (the default) also checks
# the unsafe FFI code (netaddr) and the C parts of dependencies.
san=${FUZZ_SANITIZER:-address}
fuzz=(cargo "${toolchain[@]}" fuzz)
opts=(-a -s "$san" --target-dir "target/$san")
build_log=$(mktemp "${TMPDIR:-/tmp}/duo-fuzz-build.XXXXXX")
if ! "${fuzz[@]}" build "${opts[@]}" >"$build_log" 2>&1; then
    cat "$build_log" >&2
    exit 1
fi
rm -f "$build_log"

failed=()
for t in "${targets[@]}"; do
    log=$(mktemp "${TMPDIR:-/tmp}/duo-fuzz-$t.XXXXXX")
    if [ "$mode" = smoke ]; then
        corpus=$(mktemp -d "${TMPDIR:-/tmp}/duo-fuzz-corpus-$t.XXXXXX")
    else
        corpus=corpus/$t
        mkdir -p "$corpus"
    fi
    args=(-max_total_time="$secs" -runs="$runs" -timeout=20 -rss_limit_mb=2048
        -print_final_stats=1)
    [ -f "dicts/$t.dict" ] && args+=(-dict="dicts/$t.dict")
    if "${fuzz[@]}" run "${opts[@]}" "$t" "$corpus" "seeds/$t" -- "${args[@]}" >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$t")
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    size=$(find "$corpus" -type f | wc -l)
    printf '%-14s %-6s executions %-10s cov %-6s corpus %s\n' "$t" "$status" "${execs:-?}" \
        "${cov:-?}" "$size"
    if [ "$status" != ok ]; then
        grep -E 'panicked|ERROR|SUMMARY|Test unit written|Running:' "$log" | head -20 >&2 || true
        tail -30 "$log" >&2
    fi
    rm -f "$log"
    [ "$mode" = smoke ] && rm -rf "$corpus"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
