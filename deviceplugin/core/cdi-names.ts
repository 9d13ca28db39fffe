// CDI names of a pool: kind "<prefix>/<class>" and device "<kind>=<id>".
import type { ResourceConfig } from "./config.js";

/** CDI class names allow letters, digits, "_" and "-"; resource names may also hold ".". */
export function cdiClass(config: ResourceConfig): string {
  return config.resourceName.replace(/\./g, "_");
}

export function cdiKind(config: ResourceConfig): string {
  return `${config.resourcePrefix}/${cdiClass(config)}`;
}

/** Fully qualified CDI device name, "vendor/class=name". */
export function cdiDeviceName(config: ResourceConfig, id: string): string {
  return `${cdiKind(config)}=${id}`;
}
