// The fuzzer, bounded for CI: the packaged dist/accelnet on generated configs and environments, in
// real netns with a real veth master and Debian's IPAM plugins (world.ts), asserting the invariants of
// invariants.ts and property.ts. First the counterexamples found so far (corpus.ts), one test each; then two runs: one from a fixed seed (the same cases every time), one
// from a random seed printed for reproduction. A failure prints the shrunk counterexample, the exact
// stdin and environment, and the seed and path to replay it:
//   node test/fuzz/run.mjs --seed S --path P       (or --runs N --seed S for a long run)
// FUZZ_SEED, FUZZ_RUNS, FUZZ_PATH, FUZZ_IGNORE, FUZZ_LOG and FUZZ_SHRINK_SECONDS come from run.mjs.
import { appendFileSync, existsSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { corpus } from "./corpus.js";
import { fuzzProperty, runCase } from "./property.js";
import { CNI_MODE } from "../integration/thick/cni-under-test.js";
import { ACCELNET, IPAM_PLUGINS, World } from "./world.js";

const isRoot = process.getuid?.() === 0;
const built = existsSync(ACCELNET);
const havePlugins = IPAM_PLUGINS.every((p) => existsSync(`/usr/lib/cni/${p}`));
const ready = isRoot && built && havePlugins;
const why = !isRoot
  ? "needs root"
  : !built
    ? "needs dist/accelnet (npm run build)"
    : "needs containernetworking-plugins";

const FIXED_SEED = 0x9a11ce1;
const CI_RUNS_PER_SEED = 50;
const env = process.env;
const seeds: { label: string; seed: number; runs: number }[] =
  env["FUZZ_SEED"] !== undefined
    ? [{ label: "given", seed: Number(env["FUZZ_SEED"]), runs: Number(env["FUZZ_RUNS"] ?? CI_RUNS_PER_SEED) }]
    : [
        { label: "fixed", seed: FIXED_SEED, runs: Number(env["FUZZ_RUNS"] ?? CI_RUNS_PER_SEED) },
        {
          label: "random",
          seed: (Date.now() ^ (Math.random() * 0x7fffffff)) | 0,
          runs: Number(env["FUZZ_RUNS"] ?? CI_RUNS_PER_SEED),
        },
      ];
const shrinkSeconds = Number(env["FUZZ_SHRINK_SECONDS"] ?? 60);
const log = env["FUZZ_LOG"];
const ignore =
  env["FUZZ_IGNORE"] === undefined || env["FUZZ_IGNORE"] === "" ? undefined : new RegExp(env["FUZZ_IGNORE"]);

describe.skipIf(!ready)(`fuzz: dist/accelnet (${CNI_MODE}) keeps its invariants (${ready ? "root" : why})`, () => {
  let world: World;
  beforeAll(() => {
    world = new World();
  });
  afterAll(() => world?.close());

  it.skipIf(env["FUZZ_SEED"] !== undefined).each(corpus)("counterexample found before: %s", (_label, c) => {
    const report = runCase(world, c);
    expect(report.violations, report.reproduction).toEqual([]);
  });

  it.each(seeds)(
    "$runs generated cases from the $label seed $seed",
    ({ seed, runs }) => {
      let pluginRuns = 0;
      let cases = 0;
      const outcomes = new Map<string, number>();
      const started = Date.now();
      console.log(`fuzz: seed ${seed}, ${runs} cases; replay: node test/fuzz/run.mjs --seed ${seed} --runs ${runs}`);
      try {
        fc.assert(
          fuzzProperty(world, {
            ...(ignore !== undefined ? { ignore } : {}),
            onCase: (r) => {
              pluginRuns += r.runs;
              cases += 1;
              outcomes.set(r.addOutcome, (outcomes.get(r.addOutcome) ?? 0) + 1);
              if (log !== undefined && r.violations.length > 0) appendFileSync(log, `${JSON.stringify(r)}\n`);
            },
          }),
          {
            seed,
            numRuns: runs,
            ...(env["FUZZ_PATH"] !== undefined ? { path: env["FUZZ_PATH"] } : {}),
            includeErrorInReport: true,
            // Generation is bounded by numRuns; this bounds the shrinking of a failure.
            plugins: [fc.interruptAfterTimeLimit(shrinkSeconds * 1000 + runs * 5000)],
          },
        );
      } finally {
        console.log(
          `fuzz: seed ${seed}: ${cases} cases, ${pluginRuns} plugin runs in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
            `ADD outcomes (ok or error code): ${[...outcomes].map(([k, n]) => `${k} ×${n}`).join(", ")}`,
        );
      }
    },
    3_600_000,
  );
});
