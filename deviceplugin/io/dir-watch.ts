// A directory watch that survives the directory being deleted and recreated
// (kubelet reinstall, node clean-up). An inotify watch is on an inode: once the
// directory is gone its watch reports nothing ever again, and the new directory
// at the same path is another inode. So the parent is watched for the name too,
// and check() (also called from the daemon's periodic tick, in case the parent
// went as well) compares the directory's inode with the watched one: on any
// difference the watch is re-established and the owner told to look again.
import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { inodeOf } from "./plugin-server.js";

export interface DirWatchOptions {
  readonly dir: string;
  /**
   * Something in the directory changed (file: its name, when the kernel says),
   * or the directory itself was replaced, removed or appeared (file: null).
   */
  readonly onChange: (file: string | null) => void;
  readonly onError: (path: string, err: Error) => void;
}

export class DirWatch {
  private dirWatcher: FSWatcher | null = null;
  private parentWatcher: FSWatcher | null = null;
  /** Inode of the directory the watcher is on; null: the directory is absent (or unwatchable). */
  private watchedIno: number | null = null;
  private closed = false;

  constructor(private readonly opts: DirWatchOptions) {}

  /** Starts watching; throws when neither the directory nor its parent can be watched. */
  start(): void {
    const parent = dirname(this.opts.dir);
    const name = basename(this.opts.dir);
    try {
      this.parentWatcher = watch(parent, (_event, file) => {
        if (file === null || file === name) this.check();
      }).on("error", (err) => this.opts.onError(parent, err));
    } catch (err) {
      // No parent to watch (it is gone too): the periodic check() still notices.
      this.opts.onError(parent, err as Error);
    }
    this.rewatch();
  }

  /** Re-establishes the watch when the directory's inode changed; tells the owner. */
  check(): void {
    if (this.closed) return;
    if (inodeOf(this.opts.dir) === this.watchedIno) return;
    this.rewatch();
    this.opts.onChange(null);
  }

  close(): void {
    this.closed = true;
    this.dirWatcher?.close();
    this.parentWatcher?.close();
    this.dirWatcher = null;
    this.parentWatcher = null;
  }

  private rewatch(): void {
    this.dirWatcher?.close();
    this.dirWatcher = null;
    const ino = inodeOf(this.opts.dir);
    this.watchedIno = ino;
    if (ino === null) return;
    try {
      this.dirWatcher = watch(this.opts.dir, (_event, file) => {
        // Events of a deleted directory itself ("rename" of its own name) mean: look at the inode.
        this.check();
        this.opts.onChange(file);
      }).on("error", (err) => this.opts.onError(this.opts.dir, err));
    } catch (err) {
      this.watchedIno = null; // vanished between lstat and watch: the next check() sees it
      this.opts.onError(this.opts.dir, err as Error);
    }
  }
}
