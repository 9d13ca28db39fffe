// Structured JSON logs, one line per event on stderr (injectable sink), and
// per-file tracers for debug detail enabled by ACCELNET_TRACE
// ("registration,server", "-x" disables, "all" enables everything), like
// grpc-js's GRPC_TRACE.

export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Debug detail of one file; printed only when ACCELNET_TRACE enables the tracer name. */
  trace(tracer: string, msg: string, fields?: LogFields): void;
}

export function isLogLevel(s: string): s is LogLevel {
  return s in LEVELS;
}

/** Parses ACCELNET_TRACE into a predicate on tracer names. */
export function tracerFilter(spec: string | undefined): (name: string) => boolean {
  const on = new Set<string>();
  const off = new Set<string>();
  for (const raw of (spec ?? "").split(",")) {
    const t = raw.trim();
    if (t === "") continue;
    if (t.startsWith("-")) off.add(t.slice(1));
    else on.add(t);
  }
  return (name) => !off.has(name) && (on.has("all") || on.has(name));
}

function errorFields(fields: LogFields | undefined): LogFields | undefined {
  if (fields === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v instanceof Error ? v.message : v;
  return out;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly trace?: string | undefined;
  readonly write?: (line: string) => void;
  readonly now?: () => Date;
}

export function createLogger(opts: LoggerOptions): Logger {
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const now = opts.now ?? (() => new Date());
  const traced = tracerFilter(opts.trace);
  const emit = (level: LogLevel, msg: string, fields?: LogFields, tracer?: string): void => {
    if (tracer === undefined && LEVELS[level] < LEVELS[opts.level]) return;
    const record = {
      ts: now().toISOString(),
      level,
      ...(tracer === undefined ? {} : { tracer }),
      msg,
      ...errorFields(fields),
    };
    write(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    trace: (t, m, f) => {
      if (traced(t)) emit("debug", m, f, t);
    },
  };
}

/** A tracer bound to one file's name, so call sites stay short. */
export function tracer(log: Logger, name: string): (msg: string, fields?: LogFields) => void {
  return (msg, fields) => log.trace(name, msg, fields);
}
