// Where the inventory comes from. The daemon only sees InventorySource; the
// helper-backed source sends the helper's `inventory` command (native/PROTOCOL.md)
// through a batch runner, which the lead wires to native/client's NativeClient.
import { readFile } from "node:fs/promises";
import { parseInventory, type Inventory } from "../core/inventory.js";

export interface InventorySource {
  read(): Promise<Inventory>;
  /** Paths whose inotify events hint that the inventory changed (may be empty). */
  readonly hintPaths: readonly string[];
}

/** The part of native/client's NativeClient this module needs (structurally compatible). */
export interface BatchRunner {
  run(cmds: readonly [{ readonly name: string; readonly args: readonly string[] }]): Promise<readonly unknown[]>;
}

/** The helper's `inventory` command, validated by core's parseInventory. */
export function helperInventorySource(runner: BatchRunner, hintPaths: readonly string[] = []): InventorySource {
  return {
    hintPaths,
    async read(): Promise<Inventory> {
      const [result] = await runner.run([{ name: "inventory", args: [] }]);
      return parseInventory(result);
    },
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
