// A timeout for a child process that counts the child's own time, not the machine's.
//
// A wall-clock timer fires on a busy node although nothing is wrong: with hundreds of runtime calls at
// once the child waits for a CPU, and its parent (one of the busy ones) wakes late, sees the timer due
// before the child's exit (libuv runs timers before it polls), and kills a child that has finished.
// Measured with 256 concurrent macvlan ADDs on a 2-core node (test/bench/concurrent.mjs): 73 of 256
// helpers "timed out" after 30 s, 68 of them in state D in rtnetlink_rcv_msg (queued on the kernel's
// rtnl_lock behind the others, 3-19 s of it waiting for a CPU, 10 ms on one) and 4 already exited.
// So when the timer fires, the kernel's view of the child decides: a child that has exited (a zombie
// whose exit the parent has not read yet) is never killed; nor is one in uninterruptible sleep (D),
// and that time does not count:
// it waits for the kernel (a lock, a driver), SIGKILL would take effect only once the call returns,
// and the call's own bound is the runtime's timeout, which kills the plugin, and the helper with it
// (PR_SET_PDEATHSIG); the time it spent runnable but waiting for a CPU (/proc/PID/schedstat, second
// field) does not count; a child that ran or slept interruptibly for the whole timeout has used it up.
// Where schedstat is missing (CONFIG_SCHED_INFO off), wall time counts.
import { readFileSync } from "node:fs";

/** What the kernel says of a running child, for the timeout and for its message. */
export interface ChildSchedule {
  /** Field 3 of /proc/PID/stat: R running, S sleeping, D uninterruptible, Z exited, ... */
  state: string;
  /** Time on a CPU and time runnable waiting for one (ms), when schedstat exists. */
  onCpuMs?: number;
  waitCpuMs?: number;
  /** The kernel function it sleeps in (/proc/PID/wchan), when it sleeps and the kernel tells. */
  wchan?: string;
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return undefined;
  }
}

/** The child's schedule, or undefined when no process `pid` exists (reaped already). */
export function childSchedule(pid: number): ChildSchedule | undefined {
  const stat = readProc(pid, "stat");
  if (stat === undefined) return undefined;
  const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] ?? "?";
  const sched: ChildSchedule = { state };
  const fields = readProc(pid, "schedstat")?.trim().split(" ").map(Number);
  if (fields !== undefined && fields.length >= 2 && fields.every(Number.isFinite)) {
    sched.onCpuMs = Math.round((fields[0] ?? 0) / 1e6);
    sched.waitCpuMs = Math.round((fields[1] ?? 0) / 1e6);
  }
  const wchan = readProc(pid, "wchan");
  if (wchan !== undefined && wchan !== "" && wchan !== "0") sched.wchan = wchan;
  return sched;
}

/** "state S in rtnl_lock, 12 ms on a CPU, 3456 ms waiting for one", for messages. */
export function describeSchedule(s: ChildSchedule | undefined): string {
  if (s === undefined) return "exited";
  const parts = [`state ${s.state}${s.wchan === undefined ? "" : ` in ${s.wchan}`}`];
  if (s.onCpuMs !== undefined) parts.push(`${s.onCpuMs} ms on a CPU, ${s.waitCpuMs ?? 0} ms waiting for one`);
  return parts.join(", ");
}

export interface ChildTimeout {
  /** Stops the timer (the child closed). */
  clear(): void;
}

/** How often a child in the kernel's uninterruptible sleep is looked at again. */
const RECHECK_MS = 1000;

/**
 * Calls `expire(schedule)` once the child `pid` has spent `timeoutMs` not waiting for a CPU, and is
 * neither exited nor in uninterruptible sleep. `now` and `schedule` are seams for tests.
 */
export function childTimeout(
  pid: number | undefined,
  timeoutMs: number,
  expire: (schedule: ChildSchedule | undefined) => void,
  seams: { now?: () => number; schedule?: (pid: number) => ChildSchedule | undefined } = {},
): ChildTimeout {
  const now = seams.now ?? Date.now;
  const schedule = seams.schedule ?? childSchedule;
  const started = now();
  let lastCheck = started;
  let uninterruptibleMs = 0;
  let timer: NodeJS.Timeout | undefined;
  const check = (): void => {
    const s = pid === undefined ? undefined : schedule(pid);
    const at = now();
    // Exited (zombie or reaped): its close is on the way, with its real reply.
    if (pid !== undefined && (s === undefined || s.state === "Z")) return;
    // In the kernel's hands: the interval since the last look counts as such (the kernel keeps no
    // per-state total), so a helper that queued on a lock has its whole timeout once it is out.
    if (s?.state === "D") {
      uninterruptibleMs += at - lastCheck;
      lastCheck = at;
      arm(RECHECK_MS);
      return;
    }
    lastCheck = at;
    const used = at - started - (s?.waitCpuMs ?? 0) - uninterruptibleMs;
    if (used >= timeoutMs) expire(s);
    else arm(timeoutMs - used);
  };
  const arm = (ms: number): void => {
    timer = setTimeout(check, Math.max(ms, 10));
  };
  arm(timeoutMs);
  return {
    clear() {
      clearTimeout(timer);
    },
  };
}
