// A LogSink that keeps what a request writes to its stdout or stderr, up to a limit (the response's
// field limits, frame.ts). Past the limit it keeps nothing more and remembers that it overflowed.
import type { LogSink } from "../lib/log.js";

export class Collector implements LogSink {
  private readonly parts: Buffer[] = [];
  private size = 0;
  overflowed = false;

  constructor(private readonly limit: number) {}

  write(text: string | Uint8Array): boolean {
    const chunk = typeof text === "string" ? Buffer.from(text, "utf8") : Buffer.from(text);
    if (this.size + chunk.length > this.limit) {
      this.overflowed = true;
      return true;
    }
    this.parts.push(chunk);
    this.size += chunk.length;
    return true;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}
