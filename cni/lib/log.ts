// Logging with sriov-cni's option names: `logLevel` (error|warning|info|debug, default info) and
// `logFile` (append; default: the plugin's stderr). Never stdout: stdout carries only the result or error.
// The dispatcher opens `logFile` (trusted-paths.ts openLogFile decides whether it may) and hands the
// descriptor in as a sink.
// Every line is escaped in one place (escapeControl): values from a config, CNI_ARGS or an IPAM
// plugin's output are logged as they came, and a newline in one must not start a forged line.
import { writeSync } from "node:fs";
import type { LogLevel } from "./netconf.js";

const rank: Record<LogLevel, number> = { error: 0, warning: 1, info: 2, debug: 3 };

export interface Logger {
  error(msg: string): void;
  warning(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

export interface LogSink {
  write(line: string): unknown;
}

export interface LoggerOptions {
  level: LogLevel;
  /** The log file (fileSink) when set; otherwise, or once it fails, lines go to `stderr`. */
  file?: LogSink;
  stderr: LogSink;
  /** Prefix naming the attachment, e.g. "abc123/net1". */
  prefix?: string;
}

// C0 controls, DEL, C1 controls and the Unicode line/paragraph separators: anything a terminal or a
// log reader could take as the end of a line or a command.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `text` with every control character as a visible escape (\n, \t, \r, else \u00XX). */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

export function createLogger(opts: LoggerOptions): Logger {
  let fileBroken = false;
  const emit = (level: LogLevel, msg: string): void => {
    if (rank[level] > rank[opts.level]) return;
    const prefix = opts.prefix === undefined ? "" : ` ${opts.prefix}`;
    const line = `${escapeControl(`${new Date().toISOString()} accelnet ${level}${prefix}: ${msg}`)}\n`;
    if (opts.file !== undefined && !fileBroken) {
      try {
        opts.file.write(line);
        return;
      } catch {
        // A log file that cannot be written must not fail the attachment: fall back to stderr.
        fileBroken = true;
      }
    }
    opts.stderr.write(line);
  };
  return {
    error: (m) => emit("error", m),
    warning: (m) => emit("warning", m),
    info: (m) => emit("info", m),
    debug: (m) => emit("debug", m),
  };
}

/** A sink that appends to an open file descriptor (opened O_APPEND: each line lands at the end). */
export function fileSink(fd: number): LogSink {
  return { write: (line: string) => writeSync(fd, line) };
}

/** A logger that drops everything (unit tests, code paths before the config is known). */
export const silentLogger: Logger = { error() {}, warning() {}, info() {}, debug() {} };
