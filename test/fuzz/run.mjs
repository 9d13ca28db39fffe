#!/usr/bin/env node
// The long fuzz run (root, after npm run build): the same property as the CI test, for as many cases
// as you like, from a seed you pick (default: a random one, printed).
//   node test/fuzz/run.mjs --runs 3000 [--seed S] [--path P] [--shrink-seconds 600] [--ignore REGEX] [--log FILE]
// --path replays one counterexample (the seed and path a failure prints). --ignore drops violations
// whose text matches REGEX, to look past a class already found; the CI test never uses it. --log appends
// every case that broke an invariant (ignored or not, unshrunk) to FILE as a JSON line: with
// --ignore . the run never stops and the file is a survey of everything found.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "1000" },
    seed: { type: "string" },
    path: { type: "string" },
    ignore: { type: "string" },
    log: { type: "string" },
    "shrink-seconds": { type: "string", default: "600" },
  },
});
const seed = values.seed ?? String((Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0);
const env = {
  ...process.env,
  FUZZ_SEED: seed,
  FUZZ_RUNS: values.runs,
  FUZZ_SHRINK_SECONDS: values["shrink-seconds"],
  ...(values.path !== undefined ? { FUZZ_PATH: values.path } : {}),
  ...(values.ignore !== undefined ? { FUZZ_IGNORE: values.ignore } : {}),
  ...(values.log !== undefined ? { FUZZ_LOG: values.log } : {}),
};
console.log(`fuzz: ${values.runs} cases from seed ${seed}${values.path !== undefined ? `, path ${values.path}` : ""}`);
const r = spawnSync(join(root, "node_modules/.bin/vitest"), ["run", "test/fuzz/fuzz.test.ts"], {
  cwd: root,
  env,
  stdio: "inherit",
});
process.exit(r.status ?? 1);
