// A fake IPAM plugin for unit tests (no root): a /bin/sh script installed as "<dir>/fake".
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// A fake IPAM plugin: logs "<command> <cniVersion>" per call, supports up to 1.0.0 like Debian's 1.1.1
// plugins, and answers ADD with a fixed 1.0.0-shaped (or 0.2.0-shaped) result.
export const fakeIpamScript = `#!/bin/sh
input=$(cat)
ver=$(printf '%s' "$input" | sed -n 's/.*"cniVersion":"\\([^"]*\\)".*/\\1/p')
echo "$CNI_COMMAND $ver" >> "$FAKE_LOG"
case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0"]}'; exit 0;;
esac
if [ "$ver" = "1.1.0" ]; then echo '{"code":1,"msg":"incompatible CNI versions","details":"config is \\"1.1.0\\""}'; exit 1; fi
if [ -n "$FAKE_FAIL" ]; then echo "$FAKE_FAIL"; exit 1; fi
case "$CNI_COMMAND" in
ADD)
  if [ "$ver" = "0.2.0" ]; then echo '{"cniVersion":"0.2.0","ip4":{"ip":"10.9.0.2/24","gateway":"10.9.0.1"},"dns":{}}';
  else echo "{\\"cniVersion\\":\\"$ver\\",\\"ips\\":[{\\"address\\":\\"10.9.0.2/24\\",\\"gateway\\":\\"10.9.0.1\\"}],\\"routes\\":[{\\"dst\\":\\"0.0.0.0/0\\"}],\\"dns\\":{}}"; fi;;
esac
exit 0
`;

/** Installs the fake IPAM plugin as "<dir>/fake"; it logs its calls to $FAKE_LOG. */
export function installFakeIpam(dir: string): string {
  const path = join(dir, "fake");
  writeFileSync(path, fakeIpamScript);
  chmodSync(path, 0o755);
  return path;
}
