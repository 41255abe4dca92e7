#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for a bounded time each.
#
#   fuzz/run.sh                      # all four, FUZZ_SECS (default 120) each
#   FUZZ_SECS=600 fuzz/run.sh parse  # one target, ten minutes
#   FUZZ_SANITIZER=none fuzz/run.sh  # without AddressSanitizer (faster)
#
# Works on stable Rust through RUSTC_BOOTSTRAP=1 (see README.md). The corpus
# grows in fuzz/corpus/<target>/ (not committed); fuzz/seeds/<target>/ is
# read as well. Crashes land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
secs="${FUZZ_SECS:-120}"
sanitizer="${FUZZ_SANITIZER:-address}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(negotiate retry_after parse proxy_status)

# -max_len, and how slowly libFuzzer grows its length limit up to it
# (-len_control; 0: long inputs from the start, so the size cut-offs are
# reached within a short run).
limits() {
    case "$1" in
        negotiate) echo "-max_len=10000 -len_control=0" ;;   # past the 8 KiB cut-off
        retry_after) echo "-max_len=256" ;;
        parse) echo "-max_len=70000 -len_control=20" ;;      # past MAX_BODY_LEN (64 KiB)
        proxy_status) echo "-max_len=8192 -len_control=0" ;; # past the 4 KiB upstream limit
    esac
}

for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    # shellcheck disable=SC2046 # limits are separate words
    RUSTC_BOOTSTRAP=1 cargo fuzz run --debug-assertions --sanitizer "$sanitizer" "$target" \
        "corpus/$target" "seeds/$target" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 $(limits "$target") \
        -timeout=10 -print_final_stats=1
done
