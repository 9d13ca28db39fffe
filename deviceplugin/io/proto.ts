// Loads the device plugin and plugin registration APIs from the parsed protos
// embedded in the bundle (deviceplugin/generated/embedded-protos.ts), with the
// loader options pinned in proto/loader-options.json (the same options the
// TypeScript types were generated with).
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import loaderOptions from "../../proto/loader-options.json" with { type: "json" };
import type { ProtoGrpcType } from "../generated/api.js";
import { protoJson } from "../generated/embedded-protos.js";

/** JSON names the value types as strings ("Number"); proto-loader wants the constructors. */
function toLoaderOptions(json: Record<string, unknown>): protoLoader.Options {
  const types: Record<string, unknown> = { String, Number, Array };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    out[key] = typeof value === "string" && value in types ? types[value] : value;
  }
  return out;
}

export const LOADER_OPTIONS: protoLoader.Options = toLoaderOptions(loaderOptions);

let loaded: ProtoGrpcType | null = null;

/** The API's service and message definitions (loaded once). */
export function api(): ProtoGrpcType {
  if (loaded === null) {
    const definition = protoLoader.fromJSON(protoJson, LOADER_OPTIONS);
    loaded = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return loaded;
}

/** API version kubelet expects in RegisterRequest.version and PluginInfo.supported_versions. */
export const DEVICE_PLUGIN_VERSION = "v1beta1";
