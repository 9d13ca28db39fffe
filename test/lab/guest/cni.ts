// The lab's view of the CNI plugin and of what it leaves on the host: one CNI call through the shipped
// dispatcher with the real helper, iproute2 reads that do not go through the helper, and the state
// and owner markers a finished DEL or GC must have removed.
import { createNativeClient, type NativeClient } from "../../../native/client/index.js";
import { OwnerMarkers } from "../../../cni/lib/owner.js";
import { StateStore } from "../../../cni/lib/state.js";
import type { CniFuncs } from "../../../cni/skel/types.js";
import { dispatch } from "../../../cni/skel/dispatch.js";
import { cniPath, helperPath, sh } from "./prelude.js";

export async function ipJson<T>(...args: string[]): Promise<T> {
  return JSON.parse((await sh(["ip", "-j", ...args])).stdout) as T;
}

export interface IpLink {
  ifname: string;
  address: string;
  mtu: number;
  flags: string[];
  altnames?: string[];
}

/** What DEL must restore of a host netdev, read with iproute2 (null: no netdev). */
export async function netdevState(netdev: string | undefined) {
  const link = netdev === undefined ? undefined : (await ipJson<IpLink[]>("link", "show", "dev", netdev))[0];
  return link === undefined
    ? null
    : {
        name: link.ifname,
        mac: link.address,
        mtu: link.mtu,
        up: link.flags.includes("UP"),
        altnames: link.altnames ?? [],
      };
}

/** Where one suite's CNI calls keep their state: the pod netns, the state dir and the device-info dir. */
export interface CniPlace {
  netns: string;
  stateDir: string;
  devinfoDir: string;
}

/** Helper round trips (one exec each) of every runCni call so far: tests read the difference. */
export const helperRoundTrips = { count: 0 };

function countedClient(): NativeClient {
  const inner = createNativeClient({ helperPath });
  return {
    run(cmds) {
      helperRoundTrips.count++;
      return inner.run(cmds);
    },
  };
}

/** One CNI call (container "ctr-a", ifname net1) through the dispatcher; @env overrides any variable. */
export async function runCni(
  funcs: CniFuncs,
  place: CniPlace,
  command: string,
  conf: unknown,
  env: Record<string, string> = {},
) {
  let stdout = "";
  let stderr = "";
  const code = await dispatch(
    {
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: "ctr-a",
        CNI_NETNS: place.netns,
        CNI_IFNAME: "net1",
        CNI_PATH: cniPath,
        PATH: process.env.PATH ?? "",
        // The state dir comes from the environment only; device info files may go under devinfoDir here.
        ACCELNET_STATE_DIR: place.stateDir,
        ACCELNET_DEVINFO_DIR: place.devinfoDir,
        ...env,
      },
      stdin: JSON.stringify(conf),
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
    },
    funcs,
    { native: countedClient, lockTimeoutMs: 2000 },
    "lab",
  );
  return { code, out: stdout === "" ? undefined : (JSON.parse(stdout) as Record<string, unknown>), stderr };
}

/** The attachment states and owner markers still in @stateDir. */
export function leftovers(stateDir: string) {
  return { states: new StateStore(stateDir).list().states, markers: new OwnerMarkers(stateDir).list() };
}
