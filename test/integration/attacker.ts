// A local non-root attacker for the security tests: a Node script run as `nobody` (setpriv from
// util-linux, argv only, no shell) that repeats a list of file operations as fast as it can, ignoring
// failures, until stopped. It races root's checks: rename swaps, symlink swaps, directory re-creation.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const NOBODY = 65534;

/** One step of the attacker's loop (paths absolute). */
export type AttackOp =
  | { op: "rename"; from: string; to: string }
  | { op: "symlink"; target: string; path: string }
  | { op: "unlink"; path: string }
  | { op: "rmdir"; path: string }
  | { op: "mkdir"; path: string };

const script = `"use strict";
const fs = require("node:fs");
const ops = JSON.parse(process.argv[2]);
const count = process.argv[3];
let rounds = 0;
process.on("SIGTERM", () => { fs.writeFileSync(count, String(rounds)); process.exit(0); });
function batch() {
  for (let i = 0; i < 64; i++) {
    for (const o of ops) {
      try {
        if (o.op === "rename") fs.renameSync(o.from, o.to);
        else if (o.op === "symlink") fs.symlinkSync(o.target, o.path);
        else if (o.op === "unlink") fs.unlinkSync(o.path);
        else if (o.op === "rmdir") fs.rmdirSync(o.path);
        else if (o.op === "mkdir") fs.mkdirSync(o.path, { mode: 0o755 });
      } catch {}
    }
    rounds++;
  }
  setImmediate(batch); // lets SIGTERM in
}
batch();
`;

export interface Attacker {
  /** Stops the loop; resolves with how many rounds it ran (so a test can show it really raced). */
  stop(): Promise<number>;
}

// Node has no renameat2(): the exchange loop is a few lines of C, built with the host's gcc. It swaps
// two names atomically (RENAME_EXCHANGE), so both always exist: one check sees the real directory, the
// next use may get the other one.
const exchangeSource = `#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }
int main(int argc, char **argv) {
  if (argc != 4) return 2;
  signal(SIGTERM, on_term);
  unsigned long rounds = 0;
  while (!stop) {
    renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE);
    rounds++;
  }
  FILE *f = fopen(argv[3], "w");
  if (f != NULL) { fprintf(f, "%lu", rounds); fclose(f); }
  return 0;
}
`;

/** Runs `argv` as nobody:nogroup with no supplementary groups; `count` is where it leaves its rounds. */
function runAsNobody(dir: string, argv: readonly string[], count: string): Attacker {
  const child: ChildProcess = spawn(
    "setpriv",
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--", ...argv],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        await exited;
      }
      let rounds = 0;
      try {
        rounds = Number(readFileSync(count, "utf8"));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      return rounds;
    },
  };
}

function attackerDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "acn-attacker-"));
  chmodSync(dir, 0o777); // nobody writes its round count here
  return dir;
}

/** Starts the loop of `ops` as nobody (a Node script). */
export function startAttacker(ops: readonly AttackOp[]): Attacker {
  const dir = attackerDir();
  const file = join(dir, "attack.cjs");
  writeFileSync(file, script, { mode: 0o644 });
  const count = join(dir, "rounds");
  return runAsNobody(dir, [process.execPath, file, JSON.stringify(ops), count], count);
}

/** Starts swapping `a` and `b` atomically (renameat2 RENAME_EXCHANGE) in a loop, as nobody. */
export function startExchanger(a: string, b: string): Attacker {
  const dir = attackerDir();
  const source = join(dir, "exchange.c");
  writeFileSync(source, exchangeSource);
  const exe = join(dir, "exchange");
  execFileSync("gcc", ["-O2", "-Wall", "-Werror", "-o", exe, source]);
  chmodSync(exe, 0o755);
  const count = join(dir, "rounds");
  return runAsNobody(dir, [exe, a, b, count], count);
}
