// What a Linux interface name may be, as accelnet creates and names them: what the helper accepts
// (native/src/validate.c acn_ifname_valid) and nothing the kernel would reinterpret. The kernel takes
// a name with "%" as a template (dev_alloc_name: "net%d" becomes "net0"), so the link would not have
// the name we asked for; anything beyond printable ASCII is refused by the helper.

export const MAX_IFNAME_BYTES = 15;

/** Why `name` cannot be a kernel interface name accelnet creates or looks up, or null when it can. */
export function ifnameProblem(name: string): string | null {
  if (name === "") return "empty";
  if (Buffer.byteLength(name) > MAX_IFNAME_BYTES) return `longer than ${MAX_IFNAME_BYTES} bytes`;
  if (name === "." || name === "..") return `"." and ".." are not interface names`;
  if (name.includes("%")) return `contains "%" (the kernel would take it as a name template)`;
  if (!/^[\x21-\x7e]+$/.test(name) || /[/:]/.test(name)) {
    return `has characters the kernel or helper refuse (allowed: printable ASCII without space, "/" and ":")`;
  }
  return null;
}
