// The invariants every plugin run must keep, whatever its input (pure functions over a run's outcome):
// - stdout holds exactly one JSON document, or nothing;
// - the exit status agrees: 0 with a result (ADD) or nothing (DEL), non-zero with an error JSON whose
//   `code` is an integer and `msg` a string; never a signal;
// - no code 999 from accelnet itself: a 999 is allowed only when an IPAM plugin printed that same error;
// - DEL succeeds. The exceptions are inputs no runtime sends, which the spec itself forbids and which DEL
//   may refuse with the spec's code (as the reference skel does):
//   - code 4: a required variable missing, a CNI_CONTAINERID outside the spec's characters (or longer
//     than 128 bytes), a CNI_IFNAME the spec's rules refuse (empty, over 15 bytes, "." or "..", "/", ":"
//     or whitespace). A CNI_IFNAME such as "ñet" or "net%d" is within the spec's rules (and a tenant can
//     pick it through Multus), so DEL must succeed for it; a CNI_NETNS that is relative or has "..";
//     a CNI_ARGS outside the spec's "K1=V1;K2=V2" (an empty pair, a key without "="), which DEL may
//     also refuse with the error the IPAM plugin printed for it;
//   - code 6: a stdin that is not a JSON object (libcni and Multus decode the config before calling);
//   - code 1 (or 6): a cniVersion that is not a supported version string;
//   - code 7: a network `name` that is not a string of the spec's characters.
//   Every other config, however wrong its fields, must be deletable.
// The "leaves nothing" invariant is checked by the property (world.ts lists what is left).

export interface RunOutcome {
  command: string;
  status: number | null;
  signal: string | null;
  stdout: Buffer;
  ipamOutputs: readonly string[];
}

export interface CniErrorJson {
  code: number;
  msg: string;
}

export interface Checked {
  violations: string[];
  /** The decoded stdout, when it was one JSON document. */
  doc?: unknown;
  /** The error, when the run failed with a well-formed error JSON. */
  error?: CniErrorJson;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function asErrorJson(v: unknown): CniErrorJson | undefined {
  if (!isObject(v) || !Number.isInteger(v["code"]) || typeof v["msg"] !== "string") return undefined;
  return { code: v["code"] as number, msg: v["msg"] };
}

/** Whether one of the IPAM plugins printed this error itself (accelnet passes those through). */
export function ipamSaid(error: CniErrorJson, ipamOutputs: readonly string[]): boolean {
  return ipamOutputs.some((out) => {
    try {
      const e = asErrorJson(JSON.parse(out));
      return e !== undefined && e.code === error.code && error.msg.includes(e.msg);
    } catch {
      return false;
    }
  });
}

/** The output invariants of one run (ADD or DEL). */
export function checkOutput(run: RunOutcome): Checked {
  const violations: string[] = [];
  const v = (what: string) => violations.push(`${run.command}: ${what}`);
  if (run.signal !== null) {
    v(`killed by ${run.signal}`);
    return { violations };
  }
  const text = run.stdout.toString("utf8");
  if (!Buffer.from(text, "utf8").equals(run.stdout)) v("stdout is not valid UTF-8");
  let doc: unknown;
  let hasDoc = false;
  if (text.trim() !== "") {
    try {
      doc = JSON.parse(text);
      hasDoc = true;
    } catch {
      v(`stdout is not exactly one JSON document: ${JSON.stringify(text.slice(0, 300))}`);
      return { violations };
    }
  }
  const error = hasDoc ? asErrorJson(doc) : undefined;
  if (run.status === 0) {
    if (error !== undefined) v(`exit 0 with an error JSON (code ${error.code})`);
    if (run.command === "ADD" && (!hasDoc || !isObject(doc))) v("exit 0 without a result object");
    if (run.command !== "ADD" && hasDoc) v(`exit 0 with output ${JSON.stringify(text.slice(0, 200))}`);
  } else {
    if (error === undefined) {
      v(`exit ${run.status} without an error JSON (integer code, string msg): ${JSON.stringify(text.slice(0, 300))}`);
    } else if (error.code === 999 && !ipamSaid(error, run.ipamOutputs)) {
      v(`code 999 from accelnet itself: ${error.msg}`);
    }
  }
  return { violations, ...(hasDoc ? { doc } : {}), ...(error !== undefined ? { error } : {}) };
}

const containerIdPattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Whether the spec lets a plugin refuse this environment (code 4) even on DEL. */
export function envOutsideSpec(env: Readonly<Record<string, string>>): boolean {
  const id = env["CNI_CONTAINERID"] ?? "";
  const ifname = env["CNI_IFNAME"] ?? "";
  if (id === "" || ifname === "" || (env["CNI_PATH"] ?? "") === "") return true;
  if (!containerIdPattern.test(id) || Buffer.byteLength(id) > 128) return true;
  if (Buffer.byteLength(ifname) > 15 || ifname === "." || ifname === ".." || /[/:\s]/u.test(ifname)) return true;
  if (cniArgsMalformed(env["CNI_ARGS"] ?? "")) return true;
  // CNI_NETNS is optional for DEL, but when given a runtime gives a plain absolute path.
  const netns = env["CNI_NETNS"];
  return netns !== undefined && netns !== "" && (!netns.startsWith("/") || netns.split("/").includes(".."));
}

/** CNI_ARGS outside the spec's "K1=V1;K2=V2" shape: an empty pair or one without "=". */
export function cniArgsMalformed(args: string): boolean {
  return args !== "" && args.split(";").some((pair) => pair.indexOf("=") <= 0);
}

export const SUPPORTED_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
const networkNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The codes the spec lets DEL answer for this stdin (see the top of this file); none for a valid one. */
export function delCodesForStdin(stdin: Buffer): number[] {
  let conf: unknown;
  try {
    conf = JSON.parse(stdin.toString("utf8"));
  } catch {
    return [6];
  }
  if (!isObject(conf)) return [6];
  const codes: number[] = [];
  const version = conf["cniVersion"];
  if (version !== undefined && !(typeof version === "string" && SUPPORTED_VERSIONS.includes(version))) codes.push(1, 6);
  const name = conf["name"];
  if (!(typeof name === "string" && networkNamePattern.test(name))) codes.push(7);
  return codes;
}

/** DEL's own invariant: it succeeds, or refuses an input the spec forbids with the spec's code. */
export function checkDelSucceeded(
  checked: Checked,
  status: number | null,
  inv: { env: Readonly<Record<string, string>>; stdin: Buffer; ipamOutputs?: readonly string[] },
): string[] {
  if (status === 0) return [];
  const code = checked.error?.code;
  if (code === 4 && envOutsideSpec(inv.env)) return [];
  // IPAM plugins parse CNI_ARGS strictly (libcni's LoadArgs): their refusal passes through.
  const error = checked.error;
  if (error !== undefined && cniArgsMalformed(inv.env["CNI_ARGS"] ?? "") && ipamSaid(error, inv.ipamOutputs ?? []))
    return [];
  if (code !== undefined && delCodesForStdin(inv.stdin).includes(code)) return [];
  const what = checked.error === undefined ? `exit ${status}` : `code ${checked.error.code}: ${checked.error.msg}`;
  return [`DEL: failed (${what})`];
}
