// One fuzz case end to end: ADD, then the runtime's DEL (after a failed ADD too, as the spec has it),
// maybe a second DEL; every run's output checked, and what is left checked after a failed ADD and
// after every DEL. Returns the violations with a reproduction; fuzz.test.ts and run.mjs assert none.
import fc from "fast-check";
import { fuzzCase, type FuzzCase } from "./generators.js";
import { checkDelSucceeded, checkOutput } from "./invariants.js";
import { describeInvocation, render, type Invocation } from "./render.js";
import type { World } from "./world.js";

export interface CaseReport {
  violations: string[];
  runs: number;
  /** ADD's exit status and error code ("0", "7", ...), for the run's summary. */
  addOutcome: string;
  reproduction: string;
}

export function runCase(world: World, c: FuzzCase): CaseReport {
  const names = world.beginCase(c.conf.shape);
  const { add, del } = render(c, names);
  const violations: string[] = [];
  let runs = 0;
  let addOutcome = "";
  const runDel = (label: string, inv: Invocation) => {
    const r = world.run(inv);
    runs += 1;
    const checked = checkOutput(r);
    violations.push(
      ...checked.violations,
      ...checkDelSucceeded(checked, r.status, { ...inv, ipamOutputs: r.ipamOutputs }),
    );
    violations.push(...world.leftovers().map((l) => `${label}: left ${l}`));
  };
  try {
    const a = world.run(add);
    runs += 1;
    const checked = checkOutput(a);
    violations.push(...checked.violations);
    addOutcome = a.status === 0 ? "ok" : String(checked.error?.code ?? `exit ${a.status}`);
    if (a.status !== 0)
      violations.push(...world.leftovers().map((l) => `ADD failed (${codeOf(checked.error)}): left ${l}`));
    if (c.del.netns === "gone") world.deletePod();
    runDel("DEL", del);
    if (c.del.twice) runDel("second DEL", del);
  } finally {
    world.endCase();
  }
  const reproduction = [
    `ADD ${describeInvocation(add)}`,
    ...(del.stdin.equals(add.stdin) && c.del.netns !== "unset" ? [] : [`DEL ${describeInvocation(del)}`]),
  ].join("\n");
  return { violations, runs, addOutcome, reproduction };
}

function codeOf(e: { code: number } | undefined): string {
  return e === undefined ? "no error JSON" : `code ${e.code}`;
}

export interface FuzzOptions {
  /** Violations matching this are not counted (run.mjs --ignore, to look past a class already found). */
  ignore?: RegExp;
  onCase?: (report: CaseReport) => void;
}

/** The fast-check property: a case passes when it keeps every invariant. */
export function fuzzProperty(world: World, opts: FuzzOptions = {}) {
  return fc.property(fuzzCase, (c) => {
    const report = runCase(world, c);
    opts.onCase?.(report);
    const ignore = opts.ignore;
    const violations = ignore === undefined ? report.violations : report.violations.filter((v) => !ignore.test(v));
    if (violations.length > 0) {
      throw new Error(`invariants violated:\n- ${violations.join("\n- ")}\nreproduction:\n${report.reproduction}`);
    }
  });
}
