import { describe, expect, it } from "vitest";
import { parseCniArgs } from "../../../../cni/lib/cni-args.js";

describe("parseCniArgs()", () => {
  it("parses the K8S_POD_* keys kubelet sends", () => {
    const args = parseCniArgs(
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=vpp-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1",
    );
    expect(args).toMatchObject({
      ignoreUnknown: true,
      k8sPodNamespace: "ns1",
      k8sPodName: "vpp-0",
      k8sPodInfraContainerId: "abc",
      k8sPodUid: "u-1",
      ips: [],
    });
  });

  it.each([
    ["", {}],
    ["MAC=02:00:00:00:00:09", { mac: "02:00:00:00:00:09" }],
    ["MAC=02:00:00:00:00:01;MAC=02:00:00:00:00:02", { mac: "02:00:00:00:00:02" }],
    ["IP=10.0.0.2/24,fd00::2/64", { ips: ["10.0.0.2/24", "fd00::2/64"] }],
    ["IP= 10.0.0.2 , ,10.0.0.3", { ips: ["10.0.0.2", "10.0.0.3"] }],
    ["IgnoreUnknown=true", { ignoreUnknown: true }],
    ["IgnoreUnknown=0", { ignoreUnknown: false }],
    ["garbage;;=x;Foo=bar", { ignoreUnknown: false }],
  ])("parseCniArgs(%j) is lenient", (text, want) => {
    expect(parseCniArgs(text)).toMatchObject(want);
  });

  it("keeps unknown keys, last one wins, value may hold '='", () => {
    const args = parseCniArgs("Foo=1;Foo=2;Bar=a=b");
    expect(args.all.get("Foo")).toBe("2");
    expect(args.all.get("Bar")).toBe("a=b");
  });

  it("treats undefined CNI_ARGS as empty", () => {
    expect(parseCniArgs(undefined).all.size).toBe(0);
  });
});
