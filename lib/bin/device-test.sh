#!/usr/bin/env bash
# GPU tests and benchmarks of hyperlab.cuda; prints ONE JSON document on stdout (logs go to stderr).
# Usage:
#   lib/bin/device-test.sh                    from a checkout: builds with Maven, runs with $JAVA_HOME (JDK 25+)
#   lib/bin/device-test.sh --make-bundle DIR  packs jars, JUnit and a JRE into DIR for a GPU machine without Java
#   DIR/device-test.sh --bundle DIR           on that machine: runs from the bundle (no Maven, no JDK needed)
#   DIR/device-test.sh --bundle DIR --engine-bench [GpuBench args]
#                                             instead: the GPU engine's step benchmark with a PyTorch reference
#                                             measured in the same run (JSON for data/bench/gpu-engine-<gpu>.json, e.g. -h200);
#                                             $HYPERLAB_TORCH_TIMEOUT (s, default 900) bounds the PyTorch part
#   DIR/device-test.sh --bundle DIR --compare [key=value ...]
#                                             instead: every paradigm trained with the GPU engine (CSV for data/results/)
#   lib/bin/device-test.sh --make-bundle DIR --ab-base REV
#                                             also packs commit REV's build as DIR/base.jar, for:
#   DIR/device-test.sh --bundle DIR --ab [--rounds R] [GpuBench args]
#                                             instead: GpuBench alternating base.jar and this build, R rounds (2), merged by
#                                             BenchAb into one JSON document (times per round, means, new / base)
#   DIR/device-test.sh --bundle DIR --kernel-times [--kernels REGEX] [--options O]... [GpuBench args]
#                                             instead: one GpuBench step under ncu (per-kernel mean times of the kernels
#                                             REGEX matches, default '^(sm_|layernorm_).*'): base.jar's if the bundle has
#                                             one, this build's, then this build's compiled with each option set O
#                                             (-Dhyperlab.streammaps.options); KernelTimes merges them into one JSON
#                                             document, each run over the first (GpuBench args default: --paradigms mhc
#                                             --stream-precision bf16 --recompute off)
#   DIR/device-test.sh --bundle DIR --attention [AttentionBench args]
#                                             instead: PyTorch's SDPA attention timed, then this build's AttentionBench
#                                             (e.g. --forward-tilings 32x64x2,16x64x4 --backward-tilings 64x3,128x2x32)
#                                             and, with base.jar, REV's (its own tilings) in the same command: one JSON
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
junit_ver=1.11.4
junit_jar_m2="$HOME/.m2/repository/org/junit/platform/junit-platform-console-standalone/$junit_ver/junit-platform-console-standalone-$junit_ver.jar"
log() { echo "device-test: $*" >&2; }

find_jdk25() {  # JAVA_HOME when it is a JDK 25+, else the first under /usr/lib/jvm
  local c
  for c in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-2[5-9]* /usr/lib/jvm/java-2[5-9]* /usr/lib/jvm/jdk-2[5-9]*; do
    if [[ -n "$c" && -x "$c/bin/jar" ]] && "$c/bin/java" -version 2>&1 | grep -q 'version "2[5-9]'; then
      export JAVA_HOME="$c"; return 0
    fi
  done
  log "needs a JDK 25+ (set JAVA_HOME)"; exit 2
}

build_checkout() {  # -> sets CP, JAVA
  local root; root="$(cd "$here/../.." && pwd)"
  find_jdk25
  (cd "$root" && mvn -B -ntp -q -pl lib test-compile) >&2
  [[ -f "$junit_jar_m2" ]] || (cd "$root" && mvn -B -ntp -q dependency:get \
      -Dartifact=org.junit.platform:junit-platform-console-standalone:$junit_ver) >&2
  (cd "$root" && mvn -B -ntp -q -o -pl lib dependency:build-classpath -Dmdep.outputFile="$root/lib/target/cp.txt") >&2
  CP="$root/lib/target/classes:$root/lib/target/test-classes:$(cat "$root/lib/target/cp.txt")"; JUNIT="$junit_jar_m2"
  JAVA="$JAVA_HOME/bin/java"
}

make_base_jar() {  # $1 DIR, $2 REV: commit REV's library classes as DIR/base.jar (and its short hash in DIR/base.rev)
  local dir="$1" rev="$2" root wt; root="$(cd "$here/../.." && pwd)"
  wt="$(mktemp -d)"
  git -C "$root" worktree add -q --detach "$wt" "$rev" || { log "no commit $rev in $root"; exit 2; }
  (cd "$wt" && mvn -B -ntp -q -o -pl lib compile) >&2 || { git -C "$root" worktree remove --force "$wt"; log "$rev does not build"; exit 2; }
  (cd "$wt/lib/target/classes" && "$JAVA_HOME/bin/jar" cf "$dir/base.jar" .)
  git -C "$root" rev-parse --short "$rev" > "$dir/base.rev"
  git -C "$root" worktree remove --force "$wt"
}

make_bundle() {
  local dir root; root="$(cd "$here/../.." && pwd)"
  dir="$(mkdir -p "$1" && cd "$1" && pwd)"   # absolute: the jar steps below run from other folders
  build_checkout
  if [[ -n "${2:-}" ]]; then make_base_jar "$dir" "$2"; else rm -f "$dir/base.jar" "$dir/base.rev"; fi
  (cd "$root/lib/target/classes" && "${JAVA_HOME}/bin/jar" cf "$dir/hyperlab.jar" .)
  # this build's commit, "+changes" when the working tree differs from it
  echo "$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- lib || echo +changes)" > "$dir/this.rev"
  (cd "$root/lib/target/test-classes" && "${JAVA_HOME}/bin/jar" cf "$dir/hyperlab-tests.jar" .)
  # the runtime dependencies minus DJL's PyTorch natives (111 MB, unusable there) and the table/chart/PDF stack the GPU code
  # does not load, so bundle + tree stay under the device's 64 MiB transfer limit
  (cd "$root" && mvn -B -ntp -q -o -pl lib dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$dir/deps" -DexcludeArtifactIds=pytorch-native-cpu,pytorch-jni,pytorch-engine,fastutil,icu4j,pdfbox,pdfbox-io,fontbox,graphics2d,VectorGraphics2D,RoaringBitmap,univocity-parsers,animated-gif-lib,guava) >&2
  # first-step golden files from the DJL CPU engine, which the GPU machine cannot run (GoldenGpuTest reads them)
  (cd "$root" && mvn -B -ntp -q -o -pl lib dependency:build-classpath -Dmdep.outputFile="$root/lib/target/cp.txt") >&2
  rm -rf "$dir/golden" && mkdir -p "$dir/golden"
  "$JAVA_HOME/bin/java" -Dai.djl.offline=true --enable-native-access=ALL-UNNAMED \
      -cp "$root/lib/target/classes:$root/lib/target/test-classes:$(cat "$root/lib/target/cp.txt")" \
      hyperlab.gpu.GoldenWriter "$dir/golden" >&2
  cp "$here/torch_gpt_bench.py" "$dir/"
  cp "$junit_jar_m2" "$dir/junit-console.jar"
  cp "$here/device-test.sh" "$dir/device-test.sh"
  if [[ ! -f "$dir/jre-25.tgz" ]]; then
    [[ -x "$root/../shared/tools/device-jre.sh" ]] || { log "no $dir/jre-25.tgz and no shared/tools/device-jre.sh to make one"; exit 2; }
    # jdk.zipfs: JUnit scans the test jar for classes through the zip file system
    (cd "$root" && JRE_MODULES="java.base,java.logging,java.management,java.naming,java.sql,java.xml,jdk.unsupported,jdk.zipfs" \
        ../shared/tools/device-jre.sh "$dir") >&2
  fi
  log "bundle ready: $(du -sh "$dir" | cut -f1) in $dir"
}

use_bundle() {  # -> sets CP, JAVA
  local dir; dir="$(cd "$1" && pwd)"
  local jre="${TMPDIR:-/tmp}/hyperlab-jre"
  if [[ ! -x "$jre/bin/java" ]]; then mkdir -p "$jre" && tar xzf "$dir/jre-25.tgz" -C "$jre"; fi
  CP="$dir/hyperlab.jar:$dir/hyperlab-tests.jar:$(ls "$dir"/deps/*.jar | tr '\n' ':')"; JUNIT="$dir/junit-console.jar"
  JAVA="$jre/bin/java"
  [[ -d "$dir/golden" ]] && export HYPERLAB_GOLDEN="$dir/golden"
}

torch_tflops() {  # bf16 8192^3 torch.matmul rate on this GPU, or "null"
  timeout 300 python3 - <<'PY' 2>/dev/null || echo null
import torch
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16); b = torch.randn_like(a)
for _ in range(5): a @ b
torch.cuda.synchronize()
s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
s.record()
for _ in range(50): a @ b
e.record(); torch.cuda.synchronize()
print(2 * 8192**3 * 50 / (s.elapsed_time(e) * 1e-3) / 1e12)
PY
}

engine_bench() {  # $@: GpuBench arguments; torch first, in the same run, so the ratios compare like with like
  local torch_json="${TMPDIR:-/tmp}/torch-gpt-bench.json"
  log "torch reference (nanoGPT rc/mhc, eager and compile)..."
  timeout "${HYPERLAB_TORCH_TIMEOUT:-900}" python3 "$here/torch_gpt_bench.py" > "$torch_json" 2> >(tail -5 >&2) || echo '{"error": "torch reference failed or ran out of time; the lines above it were measured"}' >> "$torch_json"
  # each result line on stderr as well, as GpuBench logs its rows ("gpu-bench: {...}"): a command cut by its time limit
  # before GpuBench prints its document still leaves every measured line in its log
  while IFS= read -r line; do log "torch reference: $line"; done < "$torch_json"
  log "GPU engine..."
  "$JAVA" --enable-native-access=ALL-UNNAMED -cp "$CP" hyperlab.gpu.GpuBench --torch "$torch_json" "$@"
}

ab_bench() {  # $1 DIR, then [--rounds R] [GpuBench args]: base.jar and this build alternating, one merged JSON document
  local dir; dir="$(cd "$1" && pwd)"; shift
  local rounds=2 r b out deps
  if [[ "${1:-}" == --rounds ]]; then rounds="${2:?--rounds R}"; shift 2; fi
  [[ -f "$dir/base.jar" ]] || { log "no $dir/base.jar: make the bundle with --make-bundle DIR --ab-base REV"; exit 2; }
  deps="$(ls "$dir"/deps/*.jar | tr '\n' ':')"
  out="$(mktemp -d)"
  local -a bases=() news=()
  for ((r = 1; r <= rounds; r++)); do
    for b in base hyperlab; do
      log "round $r of $rounds: $b build..."
      "$JAVA" --enable-native-access=ALL-UNNAMED -cp "$dir/$b.jar:$deps" hyperlab.gpu.GpuBench "$@" > "$out/$r-$b.json"
    done
    bases+=("$out/$r-base.json"); news+=("$out/$r-hyperlab.json")
  done
  "$JAVA" -cp "$CP" hyperlab.gpu.BenchAb --base-commit "$(cat "$dir/base.rev" 2>/dev/null || echo unknown)" \
      --base "${bases[@]}" --new "${news[@]}"
  rm -rf "$out"
}

attention_bench() {  # $1 DIR, then AttentionBench args: the PyTorch reference, this build, base.jar's build if packed
  local dir; dir="$(cd "$1" && pwd)"; shift
  local deps tmp; deps="$(ls "$dir"/deps/*.jar | tr '\n' ':')"; tmp="$(mktemp -d)"
  log "torch reference (SDPA, bf16 and fp32)..."
  "$JAVA" -cp "$dir/hyperlab.jar:$deps" hyperlab.gpu.AttentionBench --torch-script > "$tmp/t.py"
  timeout "${HYPERLAB_TORCH_TIMEOUT:-300}" python3 "$tmp/t.py" > "$tmp/torch.args" \
    || { log "torch reference failed or ran out of time: no ratios to torch"; : > "$tmp/torch.args"; }
  local -a torch_args; read -r -a torch_args < "$tmp/torch.args" || true
  log "this build: AttentionBench $*..."
  "$JAVA" --enable-native-access=ALL-UNNAMED -cp "$dir/hyperlab.jar:$deps" hyperlab.gpu.AttentionBench "${torch_args[@]}" "$@" > "$tmp/new.json"
  if [[ -f "$dir/base.jar" ]]; then
    local -a base_args=()   # the tiling lists name this build's tilings: the base build times its own
    while (($#)); do
      case "$1" in --forward-tilings|--backward-tilings) shift 2 ;; *) base_args+=("$1"); shift ;; esac
    done
    log "base build $(cat "$dir/base.rev" 2>/dev/null)..."
    "$JAVA" --enable-native-access=ALL-UNNAMED -cp "$dir/base.jar:$deps" hyperlab.gpu.AttentionBench "${torch_args[@]}" "${base_args[@]}" > "$tmp/base.json"
    printf '{"base_commit": "%s", "hyperlab": %s, "base": %s}\n' "$(cat "$dir/base.rev" 2>/dev/null || echo unknown)" \
      "$(cat "$tmp/new.json")" "$(cat "$tmp/base.json")"
  else
    cat "$tmp/new.json"
  fi
  rm -rf "$tmp"
}

kernel_times() {  # $1 DIR, then [--kernels REGEX] [--options O]... [GpuBench args]
  local dir; dir="$(cd "$1" && pwd)"; shift
  local regex='^(sm_|layernorm_).*' ncu deps tmp label i o
  local -a opts=() runs=() bench=()
  while (($#)); do
    case "$1" in
      --kernels) regex="${2:?--kernels REGEX}"; shift 2 ;;
      --options) opts+=("${2:?--options O}"); shift 2 ;;
      *) bench+=("$1"); shift ;;
    esac
  done
  ((${#bench[@]})) || bench=(--paradigms mhc --stream-precision bf16 --recompute off)
  ncu="$(command -v ncu || echo /usr/local/cuda/bin/ncu)"
  [[ -x "$ncu" ]] || { log "no ncu (Nsight Compute) on this machine: it comes with the CUDA toolkit"; exit 2; }
  deps="$(ls "$dir"/deps/*.jar | tr '\n' ':')"
  tmp="$(mktemp -d)"
  local -a labels=() jars=() props=()
  if [[ -f "$dir/base.jar" ]]; then labels+=(base); jars+=("$dir/base.jar"); props+=(""); fi
  labels+=(new); jars+=("$dir/hyperlab.jar"); props+=("")
  for o in "${opts[@]}"; do labels+=("$o"); jars+=("$dir/hyperlab.jar"); props+=("$o"); done
  for i in "${!labels[@]}"; do
    label="${labels[$i]}"
    log "ncu: ${label} ..."
    "$ncu" --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel -k "regex:$regex" \
        "$JAVA" "-Dhyperlab.streammaps.options=${props[$i]}" --enable-native-access=ALL-UNNAMED -cp "${jars[$i]}:$deps" \
        hyperlab.gpu.GpuBench "${bench[@]}" --graphs off --warmup 0 --steps 1 > "$tmp/$i.txt" 2> "$tmp/$i.err" \
      || { log "ncu failed on ${label}:"; tail -5 "$tmp/$i.err" >&2; }
    runs+=(--run "$label" "$tmp/$i.txt")
  done
  "$JAVA" -cp "$CP" hyperlab.gpu.KernelTimes --device "$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)" \
      --base-commit "$(cat "$dir/base.rev" 2>/dev/null || echo none)" --commit "$(cat "$dir/this.rev" 2>/dev/null || echo unknown)" \
      --command "ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel -k regex:$regex java [-Dhyperlab.streammaps.options=O] hyperlab.gpu.GpuBench ${bench[*]} --graphs off --warmup 0 --steps 1" \
      "${runs[@]}"
  rm -rf "$tmp"
}

case "${1:-}" in
  --make-bundle)
    if [[ "${3:-}" == --ab-base ]]; then make_bundle "${2:?--make-bundle DIR}" "${4:?--ab-base REV}"; else make_bundle "${2:?--make-bundle DIR}"; fi
    exit 0 ;;
  --bundle)
    use_bundle "${2:?--bundle DIR}"
    if [[ "${3:-}" == --engine-bench ]]; then shift 3; engine_bench "$@"; exit 0; fi
    if [[ "${3:-}" == --compare ]]; then shift 3; "$JAVA" --enable-native-access=ALL-UNNAMED -cp "$CP" hyperlab.gpu.GpuCompare "$@"; exit 0; fi
    if [[ "${3:-}" == --ab ]]; then dir="$2"; shift 3; ab_bench "$dir" "$@"; exit 0; fi
    if [[ "${3:-}" == --attention ]]; then dir="$2"; shift 3; attention_bench "$dir" "$@"; exit 0; fi
    if [[ "${3:-}" == --kernel-times ]]; then dir="$2"; shift 3; kernel_times "$dir" "$@"; exit 0; fi ;;
  "") build_checkout ;;
  *) echo "usage: $0 [--bundle DIR | --make-bundle DIR]" >&2; exit 2 ;;
esac

tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
log "torch reference (bf16 8192^3)..."
torch="$(torch_tflops | tail -1)"
log "torch: $torch TFLOP/s; running JUnit (hyperlab.cuda, hyperlab.gpu)..."
"$JAVA" --enable-native-access=ALL-UNNAMED -Dhyperlab.cuda.metrics="$tmp/metrics.jsonl" -jar "$JUNIT" execute \
    --class-path "$CP" --select-package hyperlab.cuda --select-package hyperlab.gpu --reports-dir "$tmp/reports" --disable-banner --disable-ansi-colors --details=tree >&2 || true
log "benchmarks..."
"$JAVA" --enable-native-access=ALL-UNNAMED -cp "$CP" hyperlab.cuda.DeviceBench --torch-tflops "$torch" \
    --junit-xml "$tmp/reports/TEST-junit-jupiter.xml" --metrics "$tmp/metrics.jsonl"
