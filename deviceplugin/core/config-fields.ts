// Field helpers shared by the config parsers (pools in config.ts, node setup in
// node-setup-config.ts): JSON path building, value descriptions for messages,
// and the unknown-key check. Every failure is a ConfigError naming its path.
import { ConfigError } from "./config-error.js";

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A value as an error message shows it. */
export function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return JSON.stringify(v);
}

export function join(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

export function checkKeys(o: Obj, path: string, allowed: readonly string[]): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) {
      throw new ConfigError(join(path, key), `unknown key "${key}" (valid keys: ${allowed.join(", ")})`);
    }
  }
}
