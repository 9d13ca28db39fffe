// Where the inventory comes from. The daemon only sees InventorySource; the
// helper-backed source sends the helper's `inventory` command (native/PROTOCOL.md)
// through a batch runner, which the lead wires to native/client's NativeClient.
import { readFile } from "node:fs/promises";
import { parseInventory, parsePciDevice, type Inventory, type PciDevice } from "../core/inventory.js";

export interface InventorySource {
  read(): Promise<Inventory>;
  /**
   * Reads only these PCI functions (null: it does not exist), for rescans a hint
   * attributes to devices. Absent: every rescan reads everything.
   */
  readonly readFunctions?: (addrs: readonly string[]) => Promise<Map<string, PciDevice | null>>;
  /** Paths whose inotify events hint that the inventory changed (may be empty). */
  readonly hintPaths: readonly string[];
}

interface HelperCommand {
  readonly name: string;
  readonly args: readonly string[];
}

/** The part of native/client's NativeClient this module needs (structurally compatible). */
export interface BatchRunner {
  run(cmds: readonly HelperCommand[]): Promise<readonly unknown[]>;
}

/** A failed batch as native/client's NativeError reports it: which command, and why. */
function failedCommand(err: unknown): { index: number; errname: string | null; completed: readonly unknown[] } | null {
  if (typeof err !== "object" || err === null) return null;
  const e = err as { index?: unknown; errname?: unknown; completed?: unknown };
  if (typeof e.index !== "number" || !Array.isArray(e.completed)) return null;
  return { index: e.index, errname: typeof e.errname === "string" ? e.errname : null, completed: e.completed };
}

/**
 * `pci-show` of each function in one helper batch. A function that is gone ends
 * the batch with ENODEV/ENOENT at its index: it is null, and the rest of the
 * batch runs again.
 */
async function readFunctions(runner: BatchRunner, addrs: readonly string[]): Promise<Map<string, PciDevice | null>> {
  const out = new Map<string, PciDevice | null>();
  let rest = [...addrs];
  while (rest.length > 0) {
    let results: readonly unknown[];
    try {
      results = await runner.run(rest.map((addr) => ({ name: "pci-show", args: [`addr=${addr}`] })));
    } catch (err) {
      const failed = failedCommand(err);
      if (failed === null || (failed.errname !== "ENODEV" && failed.errname !== "ENOENT")) throw err;
      results = failed.completed;
      out.set(rest[failed.index] ?? "", null);
      rest.slice(0, results.length).forEach((addr, i) => out.set(addr, parseShown(results[i], addr)));
      rest = rest.slice(failed.index + 1);
      continue;
    }
    rest.forEach((addr, i) => out.set(addr, parseShown(results[i], addr)));
    rest = [];
  }
  return out;
}

function parseShown(result: unknown, addr: string): PciDevice {
  const pci = (result as { pci?: unknown } | null)?.pci;
  return parsePciDevice(pci, `pci-show ${addr}`);
}

/** The helper's `inventory` command, validated by core's parseInventory; `pci-show` for targeted rescans. */
export function helperInventorySource(runner: BatchRunner, hintPaths: readonly string[] = []): InventorySource {
  return {
    hintPaths,
    async read(): Promise<Inventory> {
      const [result] = await runner.run([{ name: "inventory", args: [] }]);
      return parseInventory(result);
    },
    readFunctions: (addrs) => readFunctions(runner, addrs),
  };
}

/**
 * An inventory JSON file (the helper's `inventory` result), re-read at every
 * rescan and watched for changes. For demos and tests on machines without
 * SR-IOV hardware (--inventory-file).
 */
export function fileInventorySource(path: string): InventorySource {
  return {
    hintPaths: [path],
    async read(): Promise<Inventory> {
      const text = await readFile(path, "utf8");
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch (err) {
        throw new Error(`Cannot parse inventory file "${path}": ${err instanceof Error ? err.message : String(err)}`, {
          cause: err,
        });
      }
      return parseInventory(raw);
    },
  };
}
