// Every manifest under deploy/ against the Kubernetes API schemas (manifest-check.ts), so a typo in a
// field or a wrong type fails CI; and proof that the check catches exactly that, on broken copies.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { parseConfig } from "../../../deviceplugin/core/config.js";
import { parseCniArgs } from "../../../cni/lib/cni-args.js";
import { parseNetConf } from "../../../cni/lib/netconf.js";
import { DEFAULT_VHOSTUSER_DIR, SOCKET_NAME } from "../../../cni/lib/vhost-socket-dir.js";
import { selectMode } from "../../../cni/modes/index.js";
import { parseConf as parseVhostUserConf } from "../../../cni/modes/vhostuser.js";
import { checkManifests, parseManifests, type ManifestDocument } from "./manifest-check.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const deployDir = path.join(repoRoot, "deploy");

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return yamlFiles(full);
      return /\.ya?ml$/.test(entry.name) ? [full] : [];
    })
    .sort();
}

function load(file: string): ManifestDocument[] {
  const { docs, problems } = parseManifests(path.relative(repoRoot, file), readFileSync(file, "utf8"));
  expect(problems).toEqual([]);
  return docs;
}

const files = yamlFiles(deployDir);
const all = files.flatMap(load);

function find(kind: string): ManifestDocument {
  const doc = all.find((d) => d.data["kind"] === kind);
  if (doc === undefined) throw new Error(`no ${kind} under deploy/`);
  return structuredClone(doc);
}

describe("deploy/ manifests", () => {
  test("there are manifests of every kind the install and the examples use", () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
    expect(new Set(all.map((d) => d.data["kind"]))).toEqual(
      new Set(["Namespace", "ServiceAccount", "ConfigMap", "DaemonSet", "NetworkAttachmentDefinition", "Pod"]),
    );
  });

  test("every document validates against the Kubernetes API schemas, with no unknown field", () => {
    expect(checkManifests(all, repoRoot)).toEqual([]);
  });

  test("a typo in an optional field of the DaemonSet fails, naming the field", () => {
    const broken = find("DaemonSet");
    const pod = (broken.data["spec"] as { template: { spec: Record<string, unknown> } }).template.spec;
    pod["hostNetworking"] = pod["hostNetwork"];
    delete pod["hostNetwork"];
    const problems = checkManifests([broken], repoRoot);
    expect(problems.map((p) => p.file)).toEqual(["deploy/daemonset.yaml"]);
    expect(problems[0]?.message).toMatch(/hostNetworking/);
  });

  test("a typo in a volume mount, and a string where the API has a boolean, fail", () => {
    const broken = find("DaemonSet");
    const spec = (broken.data["spec"] as { template: { spec: { containers: Record<string, unknown>[] } } }).template
      .spec;
    const container = spec.containers[0]!;
    const mounts = container["volumeMounts"] as Record<string, unknown>[];
    mounts[0]!["readonly"] = true; // the API field is readOnly
    (container["securityContext"] as Record<string, unknown>)["privileged"] = "true";
    const messages = checkManifests([broken], repoRoot).map((p) => p.message);
    expect(messages.some((m) => /readonly/.test(m))).toBe(true);
    expect(messages.some((m) => /privileged/.test(m))).toBe(true);
  });

  test("a missing required field (a container without a name) fails the schema validator", () => {
    const broken = find("Pod");
    const containers = (broken.data["spec"] as { containers: Record<string, unknown>[] }).containers;
    delete containers[0]!["name"];
    expect(checkManifests([broken], repoRoot).some((p) => /name/.test(p.message))).toBe(true);
  });

  test("a NetworkAttachmentDefinition with a misspelt spec field fails", () => {
    const broken = find("NetworkAttachmentDefinition");
    const spec = broken.data["spec"] as Record<string, unknown>;
    spec["conifg"] = spec["config"];
    delete spec["config"];
    expect(checkManifests([broken], repoRoot).some((p) => /conifg/.test(p.message))).toBe(true);
  });

  test("duplicate keys in a manifest are refused at parsing", () => {
    const { problems } = parseManifests("x.yaml", "apiVersion: v1\nkind: Namespace\nkind: Namespace\n");
    expect(problems.length).toBe(1);
  });
});

describe("deploy/configmap.yaml", () => {
  const configMap = find("ConfigMap");
  const configJson = (configMap.data["data"] as Record<string, string>)["config.json"]!;

  test("config.json is a config the device plugin accepts", () => {
    const config = parseConfig(configJson);
    expect(config.resources.map((r) => r.resourceName)).toEqual([
      "intel_sriov_netdevice",
      "intel_sriov_dpdk",
      "vdpa_vhost",
      "vdpa_virtio",
    ]);
    expect(config.nodeSetup).toBeNull(); // the example changes nothing on a node until nodeSetup is added
  });

  test("the commented nodeSetup example, added to config.json, is a config the device plugin accepts", () => {
    const text = readFileSync(path.join(deployDir, "configmap.yaml"), "utf8");
    const lines = text.split("\n");
    const first = lines.findIndex((l) => l.startsWith('#   "nodeSetup": {'));
    const last = lines.findIndex((l, i) => i > first && l === "#   }");
    expect(first).toBeGreaterThan(0);
    expect(last).toBeGreaterThan(first);
    const example = lines
      .slice(first, last + 1)
      .map((l) => l.slice(1))
      .join("\n");
    const withSetup = JSON.parse(configJson.trim().replace(/\}\s*$/, `,${example}\n}`)) as object;
    const config = parseConfig(JSON.stringify(withSetup));
    expect(config.nodeSetup?.pfs.length).toBe(1);
  });
});

describe("deploy/examples/vhostuser-ovs-dpdk.yaml", () => {
  const docs = load(path.join(deployDir, "examples/vhostuser-ovs-dpdk.yaml"));
  const nad = docs.find((d) => d.data["kind"] === "NetworkAttachmentDefinition")!;
  const pod = docs.find((d) => d.data["kind"] === "Pod")!;
  type Container = {
    args: string[];
    env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
    volumeMounts: { name: string; mountPath: string; subPathExpr?: string }[];
  };
  const spec = pod.data["spec"] as {
    containers: Container[];
    volumes: { name: string; hostPath?: { path: string } }[];
  };

  test("the NetworkAttachmentDefinition's config is a vhostuser config accelnet accepts", () => {
    const raw = JSON.parse((nad.data["spec"] as { config: string }).config) as Record<string, unknown>;
    expect(selectMode(raw)).toBe("vhostuser");
    const conf = parseVhostUserConf({ conf: parseNetConf(raw), cniArgs: parseCniArgs("") });
    expect(conf).toMatchObject({ bridge: "br-dpdk", socketMode: "client", vlan: 100, mtu: 1500 });
  });

  test("the pod mounts only its own socket dir: the base dir by hostPath, narrowed to its UID by subPathExpr", () => {
    const volume = spec.volumes.find((v) => v.hostPath !== undefined);
    expect(volume?.hostPath?.path).toBe(DEFAULT_VHOSTUSER_DIR);
    const [container] = spec.containers;
    const mount = container!.volumeMounts.find((m) => m.name === volume?.name);
    expect(mount?.subPathExpr).toBe("$(POD_UID)");
    expect(container!.env.find((e) => e.name === "POD_UID")?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.uid");
    // testpmd opens <mountPath>/<ifname>/<socket name>, the layout accelnet creates.
    expect(container!.args.join(" ")).toContain(`path=${mount?.mountPath}/net1/${SOCKET_NAME},server=1`);
  });
});
