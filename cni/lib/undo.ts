// An explicit undo stack for ADD: push the undo right after each step succeeds; on failure unwind in
// reverse. An undo that fails is logged and never replaces the error that caused the unwind.
import { errorMessage } from "./errors.js";
import type { Logger } from "./log.js";

interface UndoStep {
  what: string;
  run: () => Promise<void>;
}

export class UndoStack {
  private readonly steps: UndoStep[] = [];

  constructor(private readonly log: Logger) {}

  get size(): number {
    return this.steps.length;
  }

  push(what: string, run: () => Promise<void>): void {
    this.steps.push({ what, run });
  }

  /** Runs every undo in reverse order; each failure is logged and the next undo still runs. */
  async unwind(): Promise<void> {
    for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) {
      try {
        await step.run();
        this.log.debug(`undo ok: ${step.what}`);
      } catch (err) {
        this.log.error(`Cannot undo ${step.what}: ${errorMessage(err)}`);
      }
    }
  }

  /** Runs `fn`; if it throws, unwinds and rethrows the original error. */
  async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      await this.unwind();
      throw err;
    }
  }
}
