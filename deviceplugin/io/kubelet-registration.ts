// Classic registration: call Registration/Register on kubelet.sock. A fresh
// client with its own subchannel pool each time: a shared subchannel could
// still talk to a kubelet.sock that was deleted and recreated.
import * as grpc from "@grpc/grpc-js";
import { api, DEVICE_PLUGIN_VERSION } from "./proto.js";

export interface RegisterArgs {
  readonly kubeletSocket: string;
  /** Our socket's file name, relative to the device plugin dir. */
  readonly endpoint: string;
  readonly resourceName: string;
  readonly timeoutMs: number;
}

export async function registerWithKubelet(args: RegisterArgs): Promise<void> {
  const Client = api().v1beta1.Registration;
  const client = new Client(`unix:${args.kubeletSocket}`, grpc.credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      client.Register(
        {
          version: DEVICE_PLUGIN_VERSION,
          endpoint: args.endpoint,
          resource_name: args.resourceName,
          options: { pre_start_required: false, get_preferred_allocation_available: true },
        },
        { deadline: Date.now() + args.timeoutMs },
        (err) => {
          if (err === null) resolve();
          else
            reject(
              new Error(
                `Cannot register "${args.resourceName}" with kubelet at "${args.kubeletSocket}": ${err.details || err.message}`,
                { cause: err },
              ),
            );
        },
      );
    });
  } finally {
    client.close();
  }
}
