// accelnet-helper phase 2 commands on the build machine (ASan/UBSan build,
// through the TypeScript client where the command succeeds): link-move and
// link-altname-del on veth pairs in throwaway netns; vdpa-list without a vdpa
// bus; and the validation and refusal cases of every SR-IOV/vDPA/PCI command
// (the real VF, VFIO and vDPA paths run in the lab: test/lab/guest/smoke.test.ts).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { cmd } from "../../../native/client/index.js";
import { addNetns, delNetns, failure, ip, isRoot, linkNames, rawHelper, tag, useSanitizedClient } from "./_netns.js";

/** The vdpa generic netlink family exists once the vdpa core module is loaded. */
const hostHasVdpa = existsSync("/sys/module/vdpa");
const t = tag();
const A = `nh2-a-${t}`;
const B = `nh2-b-${t}`;
const VA = `nh2${t}a`; // veth end moved between A and B
const VB = `nh2${t}b`;

describe.skipIf(!isRoot)("accelnet-helper phase 2 in network namespaces (needs root)", () => {
  const client = useSanitizedClient();
  let nsA = "";
  let nsB = "";

  beforeAll(() => {
    nsA = addNetns(A);
    nsB = addNetns(B);
  });
  beforeEach(() => {
    // Each test starts with the veth pair VA/VB in A, whatever the last test moved.
    for (const ns of [A, B]) for (const n of [VA, "net1"]) spawnSync("ip", ["-n", ns, "link", "del", n]);
    ip("-n", A, "link", "add", VA, "type", "veth", "peer", "name", VB);
  });
  afterAll(() => {
    delNetns(A);
    delNetns(B);
  });

  it("link-move moves a link into another netns and back, reading it back in the target", async () => {
    const [moved] = await client.run([cmd.linkMove({ netns: nsA, name: VA, to: nsB })]);
    expect(moved.link).toMatchObject({ name: VA, kind: "veth" });
    expect(linkNames(B)).toContain(VA);
    expect(linkNames(A)).not.toContain(VA);
    const [back] = await client.run([cmd.linkMove({ netns: nsB, name: VA, to: nsA })]);
    expect(back.link.name).toBe(VA);
    expect(linkNames(A)).toContain(VA);
  });

  it("link-move with newname renames in the same message, even when the old name is taken in the target", async () => {
    // A link in B already holds VA's name: without newname the move would fail with EEXIST.
    ip("-n", B, "link", "add", VA, "type", "veth", "peer", "name", `nh2${t}x`);
    const clash = await failure(client.run([cmd.linkMove({ netns: nsA, name: VA, to: nsB })]));
    expect(clash).toMatchObject({ op: "RTM_NEWLINK", object: VA, errname: "EEXIST" });
    expect(linkNames(A)).toContain(VA);
    const [moved] = await client.run([cmd.linkMove({ netns: nsA, name: VA, to: nsB, newname: "net1" })]);
    expect(moved.link.name).toBe("net1");
    expect(linkNames(B)).toEqual(expect.arrayContaining(["net1", VA]));
    await client.run([cmd.linkMove({ netns: nsB, name: "net1", to: nsA, newname: VA })]);
    expect(linkNames(A)).toContain(VA);
    ip("-n", B, "link", "del", VA);
  });

  it("link-move of a missing link fails with ENODEV and changes nothing", async () => {
    const e = await failure(client.run([cmd.linkMove({ netns: nsA, name: "nosuch0", to: nsB })]));
    expect(e).toMatchObject({ op: "RTM_GETLINK", object: "nosuch0", errname: "ENODEV" });
  });

  it("link-altname-del removes one altname and replies with the link", async () => {
    ip("-n", A, "link", "property", "add", "dev", VA, "altname", `alt-${t}-one`);
    ip("-n", A, "link", "property", "add", "dev", VA, "altname", `alt-${t}-two`);
    const [r] = await client.run([cmd.linkAltnameDel({ netns: nsA, name: VA, altname: `alt-${t}-one` })]);
    expect(r.link.altnames).toEqual([`alt-${t}-two`]);
    const shown = JSON.parse(ip("-n", A, "-j", "link", "show", "dev", VA)) as { altnames?: string[] }[];
    expect(shown[0]?.altnames).toEqual([`alt-${t}-two`]);
    const missing = await failure(client.run([cmd.linkAltnameDel({ netns: nsA, name: VA, altname: "nope" })]));
    expect(missing).toMatchObject({ op: "RTM_DELLINKPROP", object: "nope", errname: "ENOENT" });
  });

  it("vf-show on a link without VFs lists none; vf-set on it fails naming the PF and VF", async () => {
    const [shown] = await client.run([cmd.vfShow({ netns: nsA, pf: VA })]);
    expect(shown.vfs).toEqual([]);
    expect(shown.link.name).toBe(VA);
    const e = await failure(client.run([cmd.vfSet({ netns: nsA, pf: VA, vf: 0, setting: { trust: true } })]));
    expect(e).toMatchObject({ cmd: "vf-set", object: `${VA} vf 0`, errname: "ENODEV" });
  });

  it("vf-set takes the all-zero MAC (it clears a VF's admin MAC): validation passes, only the missing VF fails", async () => {
    // A veth has no VFs, so the kernel side cannot succeed here (the lab sets and reads back the zero MAC on
    // igb): what this proves is that the value gets past validation (exit 1 at RTM_GETLINK, not exit 2 at parse).
    const zero = "00:00:00:00:00:00";
    const e = await failure(client.run([cmd.vfSet({ netns: nsA, pf: VA, vf: 0, setting: { mac: zero } })]));
    expect(e).toMatchObject({ cmd: "vf-set", op: "RTM_GETLINK", object: `${VA} vf 0`, errname: "ENODEV" });
    const { status, reply } = rawHelper("vf-set", `netns=${nsA}`, `pf=${VA}`, "vf=0", `mac=${zero}`);
    expect(status).toBe(1);
    expect(reply.error).toMatchObject({ op: "RTM_GETLINK", errname: "ENODEV" });
    // Everywhere else the all-zero MAC stays refused.
    for (const argv of [
      ["link-set-mac", `netns=${nsA}`, `name=${VA}`, `mac=${zero}`],
      ["vdpa-config-set", "dev=vdpa0", `mac=${zero}`],
    ]) {
      const refused = rawHelper(...argv);
      expect(refused.status, argv[0]).toBe(2);
      expect(refused.reply.error).toMatchObject({ op: "parse", object: "mac" });
      expect(refused.reply.error?.message).toBe(`${argv[0]}: invalid mac "${zero}": is all zero`);
    }
  });

  it.skipIf(hostHasVdpa)(
    `vdpa-list on a kernel without the vdpa family is an empty list; vdpa-show is ENODEV (no vdpa bus)${hostHasVdpa ? " (skipped: this host has a vdpa bus; the lab covers it)" : ""}`,
    async () => {
      const [list] = await client.run([cmd.vdpaList()]);
      expect(list.vdpa).toEqual([]);
      const e = await failure(client.run([cmd.vdpaShow({ dev: "vdpa0" })]));
      expect(e).toMatchObject({ op: "CTRL_CMD_GETFAMILY", object: "vdpa0", errname: "ENODEV" });
      expect(e.message).toContain("no vdpa bus");
      for (const c of [
        cmd.vdpaBind({ dev: "vdpa0", driver: "virtio_vdpa" }),
        cmd.vdpaConfigSet({ dev: "vdpa0", mac: "02:00:00:00:00:01" }),
      ])
        expect(await failure(client.run([c]))).toMatchObject({ errname: "ENODEV", object: "vdpa0" });
    },
  );

  it.each([
    [["link-move", "name=eth0"], "to"],
    [["link-move", "name=eth0", "to=/nonexistent/ns"], "to"],
    [["link-move", "name=eth0", "to=/proc/self/ns/uts"], "to"],
    [["link-move", "name=eth0", "to=/proc/self/ns/net", "newname=a/b"], "newname"],
    [["link-altname-del", "name=eth0", `altname=${"a".repeat(128)}`], "altname"],
    [["link-altname-del", "name=eth0", "altname=a b"], "altname"],
    [["vf-show", "pf=a:b"], "pf"],
    [["vf-set", "pf=eth0", "vf=0"], "vf-set"],
    [["vf-set", "pf=eth0", "vf=0", "mac=02:00:00:00:00:01", "trust=on"], "vf-set"],
    [["vf-set", "pf=eth0", "vf=0", "qos=3"], "qos"],
    [["vf-set", "pf=eth0", "vf=0", "vlan=1", "qos=8"], "qos"],
    [["vf-set", "pf=eth0", "vf=0", "vlan=4095"], "vlan"],
    [["vf-set", "pf=eth0", "vf=0", "vlan=1", "proto=802.1x"], "proto"],
    [["vf-set", "pf=eth0", "vf=0", "spoofchk=yes"], "spoofchk"],
    [["vf-set", "pf=eth0", "vf=0", "trust=1"], "trust"],
    [["vf-set", "pf=eth0", "vf=0", "state=up"], "state"],
    [["vf-set", "pf=eth0", "vf=0", "min_tx_rate=200", "max_tx_rate=100"], "min_tx_rate"],
    [["vf-set", "pf=eth0", "vf=-1", "trust=on"], "vf"],
    [["vf-set", "pf=eth0", "vf=0", "mac=01:00:00:00:00:01"], "mac"],
    [["pci-show", "addr=10.0.0.1/24"], "addr"],
    [["pci-bind", "addr=0000:00:02.0", "driver=../../x"], "driver"],
    [["pci-bind", "addr=0000:00:02.0"], "driver"],
    [["sriov-numvfs", "addr=0000:00:02.0", "count=x"], "count"],
    [["vfio-info", "addr=0000:00:02.0/.."], "addr"],
    [["vdpa-show", "dev=a/b"], "dev"],
    [["vdpa-show", `dev=${"v".repeat(32)}`], "dev"],
    [["vdpa-bind", "dev=vdpa0", "driver=vfio-pci"], "driver"],
    [["vdpa-config-set", "dev=vdpa0", "mac=00:00:00:00:00:00"], "mac"],
    [["vhost-vdpa-info", "dev=.."], "dev"],
    [["inventory", "vdpa=yes"], "vdpa"],
    [["vdpa-list", "dev=x"], "dev"],
  ])("refuses %j before running anything (exit 2, object %s)", (argv, object) => {
    const { status, reply } = rawHelper(...argv);
    expect(status).toBe(2);
    expect(reply.ok).toBe(false);
    expect(reply.error).toMatchObject({ index: 0, op: "parse", object });
    expect(reply.error?.errname).toMatch(/^E[A-Z]+$/);
  });

  it("a batch with one bad phase 2 command runs nothing (the link stays in A)", () => {
    const { status } = rawHelper("link-move", `netns=${nsA}`, `name=${VA}`, `to=${nsB}`, "--", "pci-show", "addr=bad");
    expect(status).toBe(2);
    expect(linkNames(A)).toContain(VA);
    expect(linkNames(B)).not.toContain(VA);
  });
});
