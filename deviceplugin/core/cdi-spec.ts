// CDI (Container Device Interface) spec of one pool: kind "<prefix>/<class>",
// one CDI device per pool device with its device nodes. The runtime reads the
// file from the CDI dir and injects what Allocate names in cdi_devices.
import type { ResourceConfig } from "./config.js";
import { deviceNodesOf } from "./allocate-response.js";
import { cdiClass, cdiKind } from "./cdi-names.js";
import type { Pool } from "./pools.js";

export const CDI_VERSION = "0.6.0";

/** File name of the pool's spec in the CDI dir. */
export function cdiSpecFileName(config: ResourceConfig): string {
  return `accelnet-${config.resourcePrefix}-${cdiClass(config)}.json`;
}

export interface CdiSpec {
  readonly cdiVersion: string;
  readonly kind: string;
  readonly devices: readonly {
    readonly name: string;
    readonly containerEdits: {
      readonly deviceNodes: readonly {
        readonly path: string;
        readonly hostPath: string;
        readonly permissions: string;
      }[];
    };
  }[];
}

/** The spec of the pool's healthy devices. */
export function cdiSpecOf(pool: Pool): CdiSpec {
  return {
    cdiVersion: CDI_VERSION,
    kind: cdiKind(pool.config),
    devices: pool.devices
      .filter((d) => d.healthy)
      .map((d) => ({
        name: d.id,
        containerEdits: {
          deviceNodes: deviceNodesOf(pool, d).map((n) => ({
            path: n.containerPath,
            hostPath: n.hostPath,
            permissions: n.permissions,
          })),
        },
      })),
  };
}
