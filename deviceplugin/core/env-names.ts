// Environment variable names of Allocate responses, as sriov-network-device-plugin
// names them: PCIDEVICE_<PREFIX>_<NAME>, upper-cased, with ".", "/" and "-" made "_".

export function resourceEnvName(prefix: string, name: string): string {
  return `PCIDEVICE_${prefix}_${name}`.toUpperCase().replace(/[./-]/g, "_");
}

export function resourceInfoEnvName(prefix: string, name: string): string {
  return `${resourceEnvName(prefix, name)}_INFO`;
}
