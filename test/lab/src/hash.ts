// Cache keys: a SHA-256 over named inputs (file contents and plain values),
// so any change to what goes into a build gives a new cache entry.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export class CacheKey {
  readonly #hash = createHash("sha256");

  value(name: string, value: string): this {
    this.#hash.update(`${name}\0${value}\0`);
    return this;
  }

  bytes(name: string, data: Buffer): this {
    this.#hash.update(`${name}\0`);
    this.#hash.update(data);
    this.#hash.update("\0");
    return this;
  }

  async file(name: string, file: string): Promise<this> {
    this.#hash.update(`${name}\0`);
    this.#hash.update(await readFile(file));
    this.#hash.update("\0");
    return this;
  }

  /** A short hex key: enough to tell cache entries apart. */
  digest(): string {
    return this.#hash.digest("hex").slice(0, 16);
  }
}
