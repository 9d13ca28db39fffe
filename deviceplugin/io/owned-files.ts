// Files this instance wrote (device-info files, CDI specs), removed at stop only
// while they are still the ones it wrote. During a rollout the new instance
// rewrites the same paths; the old instance stopping afterwards must leave them.
// Ownership is the inode: each write creates a new file (temporary name unique
// to this process, then renamed into place), so a path holding another inode
// was written by someone else since.
import { lstat, mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

let tmpSequence = 0;

export class OwnedFiles {
  /** path → inode of the file we put there. */
  private readonly owned = new Map<string, number>();

  /** Writes content to path atomically (readers never see a partial or missing file) and owns it. */
  async write(path: string, content: string, mode: number): Promise<void> {
    const dir = dirname(path);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.${basename(path)}.${process.pid}-${++tmpSequence}.tmp`);
    // "wx": O_CREAT|O_EXCL, which never follows a symlink planted at the name.
    const fh = await open(tmp, "wx", mode);
    try {
      await fh.writeFile(content);
      const { ino } = await fh.stat();
      await fh.close();
      await rename(tmp, path);
      this.owned.set(path, ino);
    } catch (err) {
      await fh.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Removes path if it still holds the file we wrote; forgets it either way. */
  async remove(path: string): Promise<void> {
    const ino = this.owned.get(path);
    this.owned.delete(path);
    if (ino === undefined) return;
    const now = await lstat(path).catch(() => null);
    if (now !== null && now.ino === ino) await rm(path, { force: true });
  }

  /** Removes every file still ours. */
  async removeAll(): Promise<void> {
    await Promise.all([...this.owned.keys()].map((p) => this.remove(p)));
  }
}
