# Shared by the kernel's scripts (sourced, not run): paths, the JDK, Jupyter, kernelspec install.
KROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KERNEL_JAR="$KROOT/kernel/target/hyperlab-kernel-0.1.0-SNAPSHOT.jar"
LIB_JAR="$KROOT/lib/target/hyperlab-lib-0.1.0-SNAPSHOT.jar"
KERNEL_CP="$KERNEL_JAR:$KROOT/kernel/target/deps/*:$LIB_JAR:$KROOT/lib/target/deps/*"
# AppCDS: the first clean kernel exit writes kernel/target/kernel-cds.jsa and later kernels map the
# JShell/javac classes from it (faster start). The JDK's base archive was dumped without
# --enable-native-access, which it reports as an [error] on every start although the archive is
# still used, and a rebuilt jar makes it warn once before the archive is rewritten at exit;
# -Xlog:cds*=off,aot*=off keeps both out of the Jupyter log.
# JIT: the JVM's default tiered C1+C2. HYPERLAB_KERNEL_JIT=c1 (at setup time) stops at C1: every cell is a
# javac compile, which C1-only code runs sooner at full speed, so trivial cells answer faster on 2 cores
# (data/bench/kernel-c1.json against kernel.json), but notebook 05 ran 1.3-1.4x slower (kernel/README.md), so it is opt-in.
case "${HYPERLAB_KERNEL_JIT:-tiered}" in
  tiered) KERNEL_JIT_FLAGS=() ;;
  c1) KERNEL_JIT_FLAGS=(-XX:TieredStopAtLevel=1) ;;
  *) echo "hyperlab kernel: HYPERLAB_KERNEL_JIT=$HYPERLAB_KERNEL_JIT is unknown: use tiered (default) or c1 (snappier cells, slower hot Java code)" >&2; exit 1 ;;
esac
KERNEL_JVM_FLAGS=(-Dai.djl.offline=true --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
  -Xss4m -Djava.awt.headless=true "${KERNEL_JIT_FLAGS[@]}"
  -XX:+AutoCreateSharedArchive "-XX:SharedArchiveFile=$KROOT/kernel/target/kernel-cds.jsa" -Xlog:cds*=off,aot*=off)

kdie() { echo "hyperlab kernel: $*" >&2; exit 1; }
ksay() { echo "hyperlab kernel: $*" >&2; }

# A JDK 25+: JAVA_HOME when it is one, else the newest under /usr/lib/jvm.
kfind_jdk() {
  local cand v
  for cand in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-2[5-9]* /usr/lib/jvm/java-2[5-9]* /usr/lib/jvm/jdk-2[5-9]*; do
    [[ -n "$cand" && -x "$cand/bin/java" ]] || continue
    v="$("$cand/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
    if [[ -n "$v" && "$v" -ge 25 ]]; then export JAVA_HOME="$cand"; return 0; fi
  done
  kdie "the kernel needs a JDK 25 or newer (JAVA_HOME=${JAVA_HOME:-unset}); e.g. export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64"
}

# The jupyter and python to use: a conda env's own when one is active, else Debian's (a pyenv
# python3 may shadow Debian's on PATH and lack the Jupyter packages).
kfind_jupyter() {
  if [[ -n "${CONDA_PREFIX:-}" && -x "$CONDA_PREFIX/bin/jupyter" ]]; then
    JUPYTER="$CONDA_PREFIX/bin/jupyter"; PY="$CONDA_PREFIX/bin/python3"
  elif [[ -x /usr/bin/jupyter ]]; then
    JUPYTER=/usr/bin/jupyter; PY=/usr/bin/python3
  elif command -v jupyter >/dev/null; then
    JUPYTER="$(command -v jupyter)"; PY="$(dirname "$JUPYTER")/python3"
  else
    kdie "Jupyter is not installed: run kernel/bin/setup.sh --deps-only (Debian) or use environment.yml (conda)"
  fi
}

kcheck_jars() {
  local j
  for j in "$KERNEL_JAR" "$LIB_JAR"; do
    [[ -f "$j" ]] || kdie "missing $j: build first (bin/hyperlab setup, or mvn -DskipTests install)"
  done
}

# kinstall_kernelspec [DATA_DIR]: writes kernels/hyperlab (kernel.json + logos) into DATA_DIR, default
# the active conda env's share/jupyter, else the user's Jupyter data dir.
kinstall_kernelspec() {
  kfind_jdk; kfind_jupyter; kcheck_jars
  local data="${1:-}"
  if [[ -z "$data" ]]; then
    if [[ -n "${CONDA_PREFIX:-}" && "$JUPYTER" == "$CONDA_PREFIX"/* ]]; then data="$CONDA_PREFIX/share/jupyter"
    else data="$("$JUPYTER" --data-dir)"; fi
  fi
  local dir="$data/kernels/hyperlab"
  mkdir -p "$dir"
  "$PY" - "$dir/kernel.json" "$JAVA_HOME/bin/java" "$KERNEL_CP" "${KERNEL_JVM_FLAGS[@]}" <<'PYEOF'
import json, sys
out, java, cp, flags = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
spec = {
    "argv": [java, *flags, "-cp", cp, "hyperlab.kernel.Main", "{connection_file}"],
    "display_name": "Java (HyperLab)",
    "language": "java",
    "interrupt_mode": "message",
    "metadata": {"debugger": False},
}
with open(out, "w") as f:
    json.dump(spec, f, indent=2)
PYEOF
  "$JAVA_HOME/bin/java" -Djava.awt.headless=true -cp "$KERNEL_JAR" hyperlab.kernel.Logo "$dir" \
    || kdie "could not draw the kernel logo into $dir"
  KERNELSPEC_DIR="$dir"
}
