// The concurrency bound: at most `max` requests run at once; up to `queueLimit` more wait in arrival
// order; beyond that a request is turned away at once (the caller answers code 11).
export type Release = () => void;

export class Slots {
  private running = 0;
  private readonly waiting: ((release: Release) => void)[] = [];
  private readonly onIdle: (() => void)[] = [];

  constructor(
    readonly max: number,
    readonly queueLimit: number,
  ) {}

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** A slot (resolves when one is free), or "full" when the queue is at its limit. */
  acquire(): Promise<Release> | "full" {
    if (this.running < this.max) return Promise.resolve(this.take());
    if (this.waiting.length >= this.queueLimit) return "full";
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Resolves when nothing runs and nothing waits (shutdown's drain). */
  idle(): Promise<void> {
    if (this.running === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.onIdle.push(resolve));
  }

  private take(): Release {
    this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const next = this.waiting.shift();
      if (next !== undefined) next(this.take());
      else if (this.running === 0) for (const wake of this.onIdle.splice(0)) wake();
    };
  }
}
