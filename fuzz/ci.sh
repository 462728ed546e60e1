#!/usr/bin/env bash
# CI's short fuzzing run (docs/fuzzing.md): seeds the corpora, builds the six fuzz targets and
# runs each for a bounded time, one fuzzing process at a time. Exits non-zero when a target
# crashes (panic, failed check, out-of-memory, timeout) or does not build.
#
#   fuzz/ci.sh                      # 30 s a target
#   FUZZ_SECONDS=120 fuzz/ci.sh     # longer
#   FUZZ_SANITIZER=address fuzz/ci.sh   # AddressSanitizer build (slower build and runs)
#   FUZZ_TARGETS="decode roster" fuzz/ci.sh
#   FUZZ_TARGET_DIR=~/.cache/formscan/fuzz-target fuzz/ci.sh   # keep builds between clones
#   FUZZ_CODEGEN_UNITS=16 fuzz/ci.sh   # faster build, somewhat slower fuzzing (cargo-fuzz's default: 1)
#
# Crashing inputs are left in fuzz/artifacts/<target>/; reproduce one with
#   cargo +nightly fuzz run -s none <target> fuzz/artifacts/<target>/crash-…
set -euo pipefail
fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
cd "$root"

seconds=${FUZZ_SECONDS:-30}
sanitizer=${FUZZ_SANITIZER:-none}
target_dir=${FUZZ_TARGET_DIR:-$fuzz/target}
build_flags=(--target-dir "$target_dir")
if [ -n "${FUZZ_CODEGEN_UNITS:-}" ]; then build_flags+=(--codegen-units "$FUZZ_CODEGEN_UNITS"); fi
read -r -a targets <<<"${FUZZ_TARGETS:-decode template roster clean payload intake}"
start=$(date +%s)

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# cargo-fuzz needs nightly flags (-Z sanitizer, coverage instrumentation): a nightly toolchain
# when there is one, else the stable one with RUSTC_BOOTSTRAP=1.
toolchain=()
if command -v rustup >/dev/null 2>&1 && rustup toolchain list | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi
echo "== toolchain: ${toolchain[*]:-default with RUSTC_BOOTSTRAP=1} ($(rustc "${toolchain[@]}" --version))"

"$fuzz/seed.sh"

echo "== building ${targets[*]} (sanitizer: $sanitizer)"
build_start=$(date +%s)
for t in "${targets[@]}"; do
  cargo "${toolchain[@]}" fuzz build -s "$sanitizer" "${build_flags[@]}" "$t"
done
echo "== build: $(($(date +%s) - build_start)) s"

triple=$(rustc "${toolchain[@]}" -vV | sed -n 's/^host: //p')
bin_dir=$target_dir/$triple/release

max_len() {
  case "$1" in
    decode) echo 32768 ;;
    intake) echo 262144 ;;
    template) echo 16384 ;;
    payload) echo 512 ;;
    *) echo 8192 ;;
  esac
}

failed=()
summary=()
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
for t in "${targets[@]}"; do
  echo "== fuzzing $t for $seconds s"
  mkdir -p "$fuzz/corpus/$t" "$fuzz/artifacts/$t"
  before=$(find "$fuzz/corpus/$t" -type f | wc -l)
  # -jobs=1 runs the fuzzer in one child process whose output goes to fuzz-0.log in the
  # working folder: a scratch folder here, printed below.
  dict=()
  if [ -f "$fuzz/dicts/$t.dict" ]; then dict=(-dict="$fuzz/dicts/$t.dict"); fi
  set +e
  (cd "$logs" && rm -f fuzz-*.log && "$bin_dir/$t" "$fuzz/corpus/$t" "${dict[@]}" \
    -jobs=1 -workers=1 -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 \
    -max_len="$(max_len "$t")" -print_final_stats=1 -artifact_prefix="$fuzz/artifacts/$t/" \
    >"$logs/$t.out" 2>&1)
  rc=$?
  set -e
  log=$logs/fuzz-0.log
  [ -f "$log" ] || log=$logs/$t.out
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  after=$(find "$fuzz/corpus/$t" -type f | wc -l)
  if [ "$rc" -ne 0 ] || grep -qE '^(==[0-9]+== ?ERROR|SUMMARY: libFuzzer)' "$log"; then
    failed+=("$t")
    echo "-- $t FAILED (exit $rc); the fuzzer's output ends:"
    tail -n 60 "$log"
    ls -1 "$fuzz/artifacts/$t" | sed 's/^/   artifact: /'
  fi
  line=$(printf '%-9s executions %9s  exec/s %6s  corpus %4s -> %4s' "$t" "${execs:-?}" "${rate:-?}" "$before" "$after")
  summary+=("$line")
  echo "$line"
done

echo "== summary (total $(($(date +%s) - start)) s)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashed: ${failed[*]}"
  # 3, not 1: a crash found, as opposed to a target that does not build (cargo's own status).
  exit 3
fi
echo "no crashes"
