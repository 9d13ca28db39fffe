// A fake NativeClient with a small vDPA model, for unit tests of the vdpa mode without root. Links and
// netnses are the SR-IOV fake kernel's (link-move, rename, MAC, MTU, netns-create...); this adds vdpa
// devices and keeps a fake sysfs tree (test/deviceplugin/fake-sysfs.ts) in step with them, because the
// mode reads sysfs itself: the bound driver's link, vhost-vdpa-N with its /dev node, virtioN/net/<ifname>
// for a netdev that is in the host netns. vdpa-config-set can be refused as VDUSE refuses it.
import { mkdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { Command, NativeClient, ResultsOf, VdpaDevice } from "../../../../native/client/index.js";
import { FakeSysfs } from "../../../deviceplugin/fake-sysfs.js";
import { argsOf, makeNativeError } from "../fake-native.js";
import { HOST, SriovFakeKernel, takeArmedFailure } from "./sriov-fake-kernel.js";

type Driver = "vhost_vdpa" | "virtio_vdpa";

interface Model {
  name: string;
  dir: string;
  deviceId: number;
  mgmtdev: string;
  mac: string | null;
  mtu: number;
  /** vdpa-config-set answers EOPNOTSUPP (VDUSE, kernels < 6.12). */
  configSetRefused: boolean;
  index: number;
}

class VdpaError extends Error {
  constructor(
    readonly errname: string,
    message: string,
    readonly extack: string | null = null,
    readonly op = "VDPA_CMD_DEV_GET",
  ) {
    super(message);
  }
}

export class VdpaFakeKernel implements NativeClient {
  readonly links = new SriovFakeKernel();
  readonly sysfs: FakeSysfs;
  readonly calls: { name: string; args: Record<string, string> }[] = [];
  readonly devices = new Map<string, Model>();
  /** Fails the next command with this name (once), with this errno name. */
  readonly failNext = new Map<string, string>();
  private nextNetdev = 0;

  constructor(
    readonly sysfsRoot: string,
    readonly devRoot: string,
  ) {
    this.sysfs = new FakeSysfs(sysfsRoot);
    mkdirSync(devRoot, { recursive: true });
  }

  get roots(): { sysfs: string; dev: string } {
    return { sysfs: this.sysfsRoot, dev: this.devRoot };
  }

  /** A VDUSE virtio-net device on `driver`, with config-space MAC and MTU. */
  addVduse(name: string, driver: Driver, o: { mac?: string | null; mtu?: number; deviceId?: number } = {}): void {
    const index = this.devices.size;
    this.sysfs.addVduse({ name, driver, vhostIndex: index });
    const model: Model = {
      name,
      dir: join(this.sysfsRoot, "devices/virtual/vduse", name),
      deviceId: o.deviceId ?? 1,
      mgmtdev: "vduse",
      mac: o.mac === undefined ? `02:00:00:00:0d:${index.toString(16).padStart(2, "0")}` : o.mac,
      mtu: o.mtu ?? 1500,
      configSetRefused: true,
      index,
    };
    this.devices.set(name, model);
    if (driver === "vhost_vdpa") this.createChardev(model);
    else {
      rmSync(join(model.dir, `vhost-vdpa-${index}`), { recursive: true, force: true });
      this.createVirtio(model);
    }
    this.sync();
  }

  driverOf(name: string): string | null {
    const dir = this.devices.get(name)?.dir ?? "";
    return existsSync(join(dir, "driver")) ? basename(readlinkSync(join(dir, "driver"))) : null;
  }

  /** The model's virtio-net netdev wherever it is: [netns, name]. */
  netdevOf(name: string): [string, string] | undefined {
    const model = this.devices.get(name);
    if (model === undefined) return undefined;
    for (const [ns, links] of this.links.links) {
      for (const link of links.values()) if (link.parentDev === `virtio${model.index}`) return [ns, link.name];
    }
    return undefined;
  }

  /**
   * Everything DEL must restore: links everywhere, and each device's driver, MAC and sysfs children. A
   * netdev re-created by binding virtio_vdpa again has a new ifindex (as in the kernel): indexes are left out.
   */
  snapshot(): unknown {
    const devices = [...this.devices.values()].map((m) => ({
      name: m.name,
      driver: this.driverOf(m.name),
      mac: m.mac,
      children: readdirSync(m.dir).sort(),
    }));
    const links = JSON.stringify(this.links.snapshot(), (k, v: unknown) => (k === "index" ? undefined : v));
    return { links: JSON.parse(links) as unknown, devices, dev: readdirSync(this.devRoot).sort() };
  }

  async run<const C extends readonly Command<unknown>[]>(cmds: C): Promise<ResultsOf<C>> {
    const results: unknown[] = [];
    for (const [index, c] of cmds.entries()) {
      const args = argsOf(c);
      this.calls.push({ name: c.name, args });
      try {
        const fail = takeArmedFailure(this.failNext, c.name);
        if (fail !== undefined) throw new VdpaError(fail, fail);
        if (c.name.startsWith("vdpa-") || c.name === "vhost-vdpa-info") {
          results.push(this.exec(c.name, args));
        } else {
          const [r] = await this.links.run([c]).catch((err: unknown) => {
            if (err instanceof Error && "completed" in err) Object.assign(err, { index, completed: results });
            throw err;
          });
          results.push(r);
        }
      } catch (err) {
        if (!(err instanceof VdpaError)) throw err;
        throw makeNativeError({
          message: `Cannot ${c.name} "${args["dev"] ?? ""}": ${err.message}${err.extack === null ? "" : `: ${err.extack}`}`,
          index,
          cmd: c.name,
          op: err.op,
          object: args["dev"] ?? null,
          errname: err.errname,
          errno: 1,
          extack: err.extack,
          completed: results,
        });
      } finally {
        this.sync();
      }
    }
    return results as ResultsOf<C>;
  }

  private model(name: string | undefined): Model {
    const m = this.devices.get(name ?? "");
    if (m === undefined) throw new VdpaError("ENODEV", "No such device", "vdpa: device not found");
    return m;
  }

  private show(m: Model): VdpaDevice {
    const driver = this.driverOf(m.name);
    const chardev = readdirSync(m.dir).find((e) => e.startsWith("vhost-vdpa-"));
    return {
      name: m.name,
      mgmtdev: m.mgmtdev,
      parentPci: null,
      driver,
      deviceId: m.deviceId,
      vendorId: 0,
      chardev: chardev === undefined ? null : join(this.devRoot, chardev),
      netdev: this.netdevOf(m.name)?.[0] === HOST ? (this.netdevOf(m.name)?.[1] ?? null) : null,
      mac: m.mac,
      mtu: m.mtu,
    };
  }

  private exec(name: string, a: Record<string, string>): unknown {
    switch (name) {
      case "vdpa-show":
        return { vdpa: this.show(this.model(a["dev"])) };
      case "vdpa-bind": {
        const m = this.model(a["dev"]);
        const driver = a["driver"] as Driver;
        if (this.driverOf(m.name) === driver) return { vdpa: this.show(m) };
        this.unbind(m);
        symlinkSync(`../../../../bus/vdpa/drivers/${driver}`, join(m.dir, "driver"));
        if (driver === "vhost_vdpa") this.createChardev(m);
        else this.createVirtio(m);
        return { vdpa: this.show(m) };
      }
      case "vdpa-config-set": {
        const m = this.model(a["dev"]);
        if (m.configSetRefused) {
          throw new VdpaError(
            "EOPNOTSUPP",
            "Operation not supported",
            "vdpa: Operation not supported by the device.",
            "VDPA_CMD_DEV_ATTR_SET",
          );
        }
        m.mac = a["mac"] ?? null;
        return { vdpa: this.show(m) };
      }
      case "vhost-vdpa-info": {
        const m = this.model(a["dev"]);
        const chardev = this.show(m).chardev;
        if (chardev === null) throw new VdpaError("ENODEV", "not on vhost_vdpa", null, "lookup vhost-vdpa");
        return {
          path: chardev,
          deviceId: m.deviceId,
          features: String((1n << 32n) | (1n << 5n) | (1n << 3n)),
          status: 0,
          mac: m.mac,
          mtu: m.mtu,
          netStatus: 1,
          maxVirtqueuePairs: null,
        };
      }
      default:
        throw new Error(`fake vdpa kernel: unexpected command ${name}`);
    }
  }

  private unbind(m: Model): void {
    rmSync(join(m.dir, "driver"), { force: true });
    rmSync(join(m.dir, `vhost-vdpa-${m.index}`), { recursive: true, force: true });
    rmSync(join(this.devRoot, `vhost-vdpa-${m.index}`), { force: true });
    rmSync(join(m.dir, `virtio${m.index}`), { recursive: true, force: true });
    const where = this.netdevOf(m.name);
    if (where !== undefined) this.links.linksIn(where[0]).delete(where[1]); // unregistered wherever it is
  }

  private createChardev(m: Model): void {
    mkdirSync(join(m.dir, `vhost-vdpa-${m.index}`), { recursive: true });
    writeFileSync(join(this.devRoot, `vhost-vdpa-${m.index}`), "");
  }

  private createVirtio(m: Model): void {
    mkdirSync(join(m.dir, `virtio${m.index}`), { recursive: true });
    writeFileSync(join(m.dir, `virtio${m.index}`, "device"), `0x${m.deviceId.toString(16).padStart(4, "0")}\n`);
    const name = `eth${this.nextNetdev++}`;
    this.links.addLink(HOST, name, {
      parentBus: "virtio",
      parentDev: `virtio${m.index}`,
      mac: m.mac ?? "02:00:00:00:0e:00",
      mtu: m.mtu,
      maxMtu: m.mtu,
    });
  }

  /** sysfs shows a virtio netdev under virtioN/net only while it is in the host netns. */
  private sync(): void {
    for (const m of this.devices.values()) {
      const virtio = join(m.dir, `virtio${m.index}`);
      if (!existsSync(virtio)) continue;
      rmSync(join(virtio, "net"), { recursive: true, force: true });
      mkdirSync(join(virtio, "net"));
      const where = this.netdevOf(m.name);
      if (where !== undefined && where[0] === HOST) mkdirSync(join(virtio, "net", where[1]));
    }
  }
}
