// The invariants every plugin run must keep, whatever its input (pure functions over a run's outcome):
// - stdout holds exactly one JSON document, or nothing;
// - the exit status agrees: 0 with a result (ADD) or nothing (DEL), non-zero with an error JSON whose
//   `code` is an integer and `msg` a string; never a signal;
// - no code 999 from accelnet itself: a 999 is allowed only when an IPAM plugin printed that same error;
// - DEL succeeds. The one exception is an environment no runtime sends, which DEL may refuse with
//   code 4 (as the reference skel does): a required variable missing, a CNI_CONTAINERID outside the
//   spec's characters (or longer than 128 bytes), a CNI_IFNAME the spec's rules refuse (empty, over 15
//   bytes, "." or "..", "/", ":" or whitespace). A CNI_IFNAME such as "ñet" or "net%d" is within the
//   spec's rules (and a tenant can pick it through Multus), so DEL must succeed for it.
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

/** Whether one of the IPAM plugins printed this 999 error itself (accelnet passes those through). */
export function ipamSaid999(error: CniErrorJson, ipamOutputs: readonly string[]): boolean {
  return ipamOutputs.some((out) => {
    try {
      const e = asErrorJson(JSON.parse(out));
      return e !== undefined && e.code === 999 && error.msg.includes(e.msg);
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
    } else if (error.code === 999 && !ipamSaid999(error, run.ipamOutputs)) {
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
  return Buffer.byteLength(ifname) > 15 || ifname === "." || ifname === ".." || /[/:\s]/u.test(ifname);
}

/** DEL's own invariant: it succeeds (or refuses an environment outside the spec with code 4). */
export function checkDelSucceeded(
  checked: Checked,
  status: number | null,
  env: Readonly<Record<string, string>>,
): string[] {
  if (status === 0) return [];
  if (checked.error?.code === 4 && envOutsideSpec(env)) return [];
  const what = checked.error === undefined ? `exit ${status}` : `code ${checked.error.code}: ${checked.error.msg}`;
  return [`DEL: failed (${what})`];
}
