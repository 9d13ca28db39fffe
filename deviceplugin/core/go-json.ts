// JSON text exactly as Go's encoding/json writes it, so the INFO env var and
// device-info files are byte-identical to sriov-network-device-plugin's:
// map keys sorted (byte order), struct fields in declaration order, and
// "<", ">", "&", U+2028, U+2029 escaped as \u003c, \u003e, \u0026, \u2028, \u2029.

/** A JSON object whose key order is kept (a Go struct). Plain objects are Go maps: keys sorted. */
export class GoStruct {
  constructor(readonly fields: readonly (readonly [string, GoValue])[]) {}
}

export type GoValue =
  string | number | boolean | null | GoStruct | readonly GoValue[] | { readonly [key: string]: GoValue };

function hex4(code: number): string {
  return `\\u${code.toString(16).padStart(4, "0")}`;
}

export function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || ch === "<" || ch === ">" || ch === "&" || c === 0x2028 || c === 0x2029) out += hex4(c);
    else out += ch;
  }
  return out + '"';
}

/** UTF-8 byte order, which is code point order (UTF-16 unit order differs above U+FFFF). */
function byteOrder(a: string, b: string): number {
  const ca = [...a].map((c) => c.codePointAt(0) ?? 0);
  const cb = [...b].map((c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const d = (ca[i] ?? 0) - (cb[i] ?? 0);
    if (d !== 0) return d;
  }
  return ca.length - cb.length;
}

export function goJson(v: GoValue): string {
  if (v === null) return "null";
  if (typeof v === "string") return goJsonString(v);
  if (typeof v === "number" || typeof v === "boolean") return JSON.stringify(v);
  if (v instanceof GoStruct) return `{${v.fields.map(([k, val]) => `${goJsonString(k)}:${goJson(val)}`).join(",")}}`;
  if (Array.isArray(v)) return `[${(v as readonly GoValue[]).map(goJson).join(",")}]`;
  const obj = v as { readonly [key: string]: GoValue };
  const keys = Object.keys(obj).sort(byteOrder);
  return `{${keys.map((k) => `${goJsonString(k)}:${goJson(obj[k] ?? null)}`).join(",")}}`;
}
