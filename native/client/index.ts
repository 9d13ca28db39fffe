// The native client: typed functions over accelnet-helper (native/PROTOCOL.md).
export { cmd } from "./commands.js";
export type { Command, ResultsOf } from "./commands.js";
export { createNativeClient, NativeError } from "./helper.js";
export type { NativeClient, NativeClientOptions } from "./helper.js";
export { parseUeventLine, watchUevents } from "./uevents.js";
export type {
  Uevent,
  UeventAction,
  UeventMessage,
  UeventSubsystem,
  UeventWatch,
  UeventWatchOptions,
} from "./uevents.js";
export type {
  Address,
  Inventory,
  Link,
  LinkOperstate,
  MacvlanMode,
  PciDevice,
  Route,
  RouteArgs,
  RouteScope,
  VdpaDevice,
  VdpaDriver,
  VdpaMgmtdev,
  Vf,
  VfioInfo,
  VfLinkState,
  VfSetting,
  VhostVdpaInfo,
  VlanProto,
} from "./types.js";
