// A directory watch that survives the directory being deleted and recreated
// (kubelet reinstall, node clean-up). An inotify watch is on an inode: once the
// directory is gone its watch reports nothing ever again, and the new directory
// at the same path is another inode. So the parent is watched for the name too,
// and check() (also called from the daemon's periodic tick, in case the parent
// went as well) compares the directory's identity with the watched one: on any
// difference, or once the watch reported its own directory gone, the watch is
// re-established and the owner told to look again. Identity is inode and birth
// time: a directory recreated at once often gets the freed inode number back.
import { lstatSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";

/** "<inode>:<birth time>" of a directory; null when absent. */
function identityOf(path: string): string | null {
  try {
    const st = lstatSync(path);
    return `${st.ino}:${st.birthtimeMs}`;
  } catch {
    return null;
  }
}

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
  /** Identity of the directory the watcher is on; null: the directory is absent (or unwatchable). */
  private watched: string | null = null;
  /** The watcher reported its directory deleted or moved: it will never report again. */
  private dead = false;
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
    if (!this.dead && identityOf(this.opts.dir) === this.watched) return;
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
    this.dead = false;
    const id = identityOf(this.opts.dir);
    this.watched = id;
    if (id === null) return;
    const name = basename(this.opts.dir);
    try {
      this.dirWatcher = watch(this.opts.dir, (event, file) => {
        // inotify's IN_DELETE_SELF/IN_MOVE_SELF reach us as "rename" of the directory's own name.
        if (event === "rename" && file === name) this.dead = true;
        this.check();
        this.opts.onChange(file);
      }).on("error", (err) => this.opts.onError(this.opts.dir, err));
    } catch (err) {
      this.watched = null; // vanished between lstat and watch: the next check() sees it
      this.opts.onError(this.opts.dir, err as Error);
    }
  }
}
