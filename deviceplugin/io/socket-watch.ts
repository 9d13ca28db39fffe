// Watches the socket directories (ours, and kubelet's in classic mode) and the
// config's directory. Socket-dir events ask the daemon to check its sockets (our
// socket gone or replaced, kubelet.sock recreated), one run at a time: a run
// that overlapped our own rebinding would mistake our new socket for another
// instance's, so events during a run ask for one more run. Config-dir events
// ask for a reload once the burst of a ConfigMap update is over.
import { basename, dirname } from "node:path";
import { DirWatch } from "./dir-watch.js";

export interface SocketWatchOptions {
  readonly socketDirs: readonly string[];
  readonly configPath: string;
  /** One pass over every pool's socket. */
  readonly checkSockets: () => Promise<void>;
  readonly reload: (trigger: string) => void;
  readonly running: () => boolean;
  readonly onError: (path: string, err: Error) => void;
}

export class SocketWatch {
  private readonly dirWatches: DirWatch[] = [];
  private dirCheckTimer: NodeJS.Timeout | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  private recheck = false;

  constructor(private readonly opts: SocketWatchOptions) {}

  start(): void {
    const onDirEvent = (): void => {
      if (this.dirCheckTimer !== null) return;
      // Coalesce the burst of events of one kubelet restart, but stay well inside 0.2 s.
      this.dirCheckTimer = setTimeout(() => {
        this.dirCheckTimer = null;
        void this.check();
      }, 5);
    };
    const { onError, configPath } = this.opts;
    for (const dir of new Set(this.opts.socketDirs)) {
      this.dirWatches.push(new DirWatch({ dir, onChange: onDirEvent, onError }));
    }
    this.dirWatches.push(
      new DirWatch({
        dir: dirname(configPath),
        onChange: (file) => {
          // ConfigMap volumes swap a "..data" symlink; any change in the dir may be ours.
          if (file !== null && file !== basename(configPath) && !file.startsWith("..")) return;
          if (this.reloadTimer !== null) clearTimeout(this.reloadTimer);
          this.reloadTimer = setTimeout(() => {
            this.reloadTimer = null;
            this.opts.reload("file change");
          }, 100);
        },
        onError,
      }),
    );
    for (const w of this.dirWatches) w.start();
  }

  /** The periodic tick: a watched dir deleted together with its parent raised no event we could see. */
  tick(): void {
    for (const w of this.dirWatches) w.check();
  }

  stop(): void {
    for (const w of this.dirWatches) w.close();
    this.dirWatches.length = 0;
    for (const t of [this.dirCheckTimer, this.reloadTimer]) if (t !== null) clearTimeout(t);
    this.dirCheckTimer = null;
    this.reloadTimer = null;
  }

  /** Checks the sockets now, or once more after the running check. */
  async check(): Promise<void> {
    if (this.checking !== null) {
      this.recheck = true;
      return this.checking;
    }
    this.checking = (async () => {
      do {
        this.recheck = false;
        if (this.opts.running()) await this.opts.checkSockets();
      } while (this.recheck && this.opts.running());
    })().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }
}
