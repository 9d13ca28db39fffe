// How the lab runner judges one VM attempt (no VM, no root): a job that finished is never taken for a
// stopped VM, even when the console lost its EXIT marker; a real stop still is. Completion comes from the
// exit code /init writes into the results share; the console marker is only the fallback.
import { describe, expect, it } from "vitest";
import { judgeAttempt, runGuestFiles, type AttemptEvidence } from "./src/runner.js";

const report = (status: "passed" | "failed" = "passed") =>
  JSON.stringify({
    testResults: [
      {
        name: "/repo/test/lab/guest/x.test.ts",
        status,
        assertionResults: [{ fullName: "x works", status, duration: 12.4, failureMessages: [] }],
      },
    ],
  });

const booted = "[    9.1] igb 0000:00:02.0: eth0\nACCELNET-LAB: BOOTED 9.98\n";
const poweroff = "[  175.48] ACPI: PM: Preparing to enter system sleep state S5\n[  175.49] reboot: Power down\n";

function evidence(over: Partial<AttemptEvidence> = {}): AttemptEvidence {
  return {
    consoleText: `${booted}JSON report written to /results/report.json\nACCELNET-LAB: EXIT 0 174.88\n${poweroff}`,
    exitText: "0",
    reportText: report(),
    vm: { timedOut: false, exitCode: 0, signal: null, stderr: "" },
    timeoutMs: 600_000,
    ...over,
  };
}

describe("lab runner: judging a VM attempt", () => {
  it("a finished, passing job is ok", () => {
    const verdict = judgeAttempt(evidence());
    expect(verdict).toMatchObject({ ok: true, finished: true, stoppedEarly: false, problems: [], bootSeconds: 9.98 });
    expect(verdict.cases).toEqual([{ fullName: "x works", status: "passed", durationMs: 12, failureMessages: [] }]);
  });

  it("the exit code in the share counts as finished when the console lost the EXIT marker (no rerun)", () => {
    const verdict = judgeAttempt(evidence({ consoleText: `${booted}JSON report written to /results/report.json\n` }));
    expect(verdict).toMatchObject({ ok: true, finished: true, stoppedEarly: false, problems: [] });
  });

  it("an EXIT marker split by a kernel line does not matter when the share has the exit code", () => {
    const split = `${booted}ACCELNET-LAB: EX[  175.48] ACPI: PM: Preparing to enter system sleep state S5\nIT 1 174.88\n`;
    const verdict = judgeAttempt(evidence({ consoleText: split, exitText: "1", reportText: report("failed") }));
    expect(verdict).toMatchObject({ ok: false, finished: true, stoppedEarly: false, problems: [] });
    expect(verdict.cases[0]?.status).toBe("failed");
  });

  it("a finished job whose BOOTED line got lost still counts as having reached its job", () => {
    const verdict = judgeAttempt(evidence({ consoleText: poweroff }));
    expect(verdict).toMatchObject({ ok: true, finished: true, stoppedEarly: false, bootSeconds: null });
  });

  it("the console marker is the fallback when the share has no exit code", () => {
    expect(judgeAttempt(evidence({ exitText: "" }))).toMatchObject({ ok: true, finished: true, stoppedEarly: false });
    const kmsg = `${booted}[  174.88] ACCELNET-LAB: EXIT 0 174.88\n${poweroff}`;
    expect(judgeAttempt(evidence({ exitText: "", consoleText: kmsg }))).toMatchObject({ ok: true, finished: true });
  });

  it("a VM that booted and ended with neither exit code nor marker, without a timeout, stopped early", () => {
    const verdict = judgeAttempt(evidence({ consoleText: booted, exitText: "", reportText: null }));
    expect(verdict).toMatchObject({ ok: false, finished: false, stoppedEarly: true });
    expect(verdict.problems.join("; ")).toContain("the guest stopped before its job finished");
  });

  it("a timeout is not a stop (no retry), and says so", () => {
    const verdict = judgeAttempt(
      evidence({
        consoleText: booted,
        exitText: "",
        reportText: null,
        vm: { timedOut: true, exitCode: null, signal: "SIGKILL", stderr: "" },
      }),
    );
    expect(verdict).toMatchObject({ ok: false, finished: false, stoppedEarly: false });
    expect(verdict.problems).toContain("the VM did not finish within 600 s");
  });

  it("a guest that never booted is not retried and is reported as such", () => {
    const verdict = judgeAttempt(evidence({ consoleText: "[ 0.1] Linux version\n", exitText: "", reportText: null }));
    expect(verdict).toMatchObject({ ok: false, stoppedEarly: false });
    expect(verdict.problems).toContain("the guest never reached its job (no BOOTED marker on the console)");
  });

  it("a truncated report.json is a problem, not a crash of the runner", () => {
    const verdict = judgeAttempt(evidence({ reportText: report().slice(0, 40) }));
    expect(verdict.ok).toBe(false);
    expect(verdict.finished).toBe(true);
    expect(verdict.problems.join("; ")).toMatch(/report\.json is not valid JSON/);
  });

  it("a job that exited non-zero with passing cases names the exit code", () => {
    const verdict = judgeAttempt(evidence({ exitText: "3" }));
    expect(verdict).toMatchObject({ ok: false, finished: true, problems: ["the guest job exited with 3"] });
  });

  it("refuses the same guest file twice (both VMs would write one run directory)", async () => {
    const image = { kernel: "/nonexistent", initrd: "/nonexistent", release: "x", timings: {} };
    const file = "test/lab/guest/smoke.test.ts";
    await expect(runGuestFiles(image, [file, file])).rejects.toThrow(`guest test file given twice: ${file}`);
  });
});
