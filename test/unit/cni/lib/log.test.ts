import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../../../cni/lib/log.js";

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
      const log = createLogger({ level: "debug", file, stderr: { write: (l: string) => lines.push(l) } });
      log.debug("one");
      log.info("two");
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
    const lines: string[] = [];
    const log = createLogger({
      level: "info",
      file: "/nonexistent/dir/x.log",
      stderr: { write: (l: string) => lines.push(l) },
    });
    log.info("still logged");
    expect(lines).toHaveLength(1);
  });
});
