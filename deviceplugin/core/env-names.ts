// Environment variable names of Allocate responses, exactly as
// sriov-network-device-plugin builds them (pkg/resources/pool_stub.go GetEnvs):
// fmt "PCIDEVICE_<prefix>_<name>", then strings.Replace(".", "_") and
// strings.ToUpper. Only "." is replaced: a "-" in the prefix or name stays "-",
// so pods moved from that plugin read the same variables.

export function resourceEnvName(prefix: string, name: string): string {
  return `PCIDEVICE_${prefix}_${name}`.replaceAll(".", "_").toUpperCase();
}

export function resourceInfoEnvName(prefix: string, name: string): string {
  return `${resourceEnvName(prefix, name)}_INFO`;
}
