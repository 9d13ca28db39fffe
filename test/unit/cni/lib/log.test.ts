import { closeSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createLogger, escapeControl, fileSink } from "../../../../cni/lib/log.js";
import { openLogFile } from "../../../../cni/lib/trusted-paths.js";

describe("createLogger()", () => {
  it("filters by logLevel and writes to stderr when no logFile is set", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "warning", stderr: { write: (l: string) => lines.push(l) }, prefix: "c1/net1" });
    log.debug("d");
    log.info("i");
    log.warning("w");
    log.error("e");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT.*Z accelnet warning c1\/net1: w\n$/);
    expect(lines[1]).toMatch(/ accelnet error c1\/net1: e\n$/);
  });

  it("appends to logFile instead of stderr", () => {
    const dir = mkdtempSync(join(tmpdir(), "acn-log-"));
    try {
      const lines: string[] = [];
      const file = join(dir, "accelnet.log");
      const fd = openLogFile(file, { ACCELNET_LOG_DIR: dir });
      const log = createLogger({ level: "debug", file: fileSink(fd), stderr: { write: (l: string) => lines.push(l) } });
      log.debug("one");
      log.info("two");
      closeSync(fd);
      expect(lines).toEqual([]);
      expect(
        readFileSync(file, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => l.split(": ")[1]),
      ).toEqual(["one", "two"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("falls back to stderr when logFile cannot be written", () => {
    const dir = mkdtempSync(join(tmpdir(), "acn-log-"));
    try {
      const fd = openLogFile(join(dir, "x.log"), { ACCELNET_LOG_DIR: dir });
      closeSync(fd); // writes to it now fail with EBADF
      const lines: string[] = [];
      const log = createLogger({ level: "info", file: fileSink(fd), stderr: { write: (l: string) => lines.push(l) } });
      log.info("still logged");
      log.info("and again");
      expect(lines).toHaveLength(2);
      expect(readFileSync(join(dir, "x.log"), "utf8")).toBe("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("escapes control characters in every part of a line: one line per call, whatever the values hold", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "info", stderr: { write: (l: string) => lines.push(l) }, prefix: "c\n1/net\t1" });
    log.info("a\nZ accelnet error c1/net1: forged\r\u0000\u001b[31m\u007f\u0085\u2028end");
    expect(lines).toHaveLength(1);
    // eslint-disable-next-line no-control-regex
    expect(lines[0]?.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(lines[0]).toMatch(
      / accelnet info c\\n1\/net\\t1: a\\nZ accelnet error c1\/net1: forged\\r\\u0000\\u001b\[31m\\u007f\\u0085\\u2028end\n$/,
    );
  });

  it("escapeControl() leaves printable text, quotes and non-ASCII letters alone", () => {
    expect(escapeControl('Cannot use "ñet" \\ 网')).toBe('Cannot use "ñet" \\ 网');
  });
});
