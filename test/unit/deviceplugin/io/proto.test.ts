import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { api } from "../../../../deviceplugin/io/proto.js";
import { protoSources } from "../../../../deviceplugin/generated/embedded-protos.js";

describe("api()", () => {
  it("api() round-trips an AllocateResponse with maps and repeated messages through the embedded descriptor", () => {
    const m = api().v1beta1.DevicePlugin.service.Allocate;
    const msg = {
      container_responses: [
        {
          envs: { PCIDEVICE_A: "0000:00:01.0" },
          mounts: [],
          devices: [{ container_path: "/dev/vfio/7", host_path: "/dev/vfio/7", permissions: "rw" }],
          annotations: {},
          cdi_devices: [{ name: "accelnet.io/x=0000:00:01.0" }],
        },
      ],
    };
    expect(m.responseDeserialize(m.responseSerialize(msg))).toEqual(msg);
  });

  it("api() keeps kubelet's field names (keepCase) for Device and NUMA topology", () => {
    const m = api().v1beta1.DevicePlugin.service.ListAndWatch;
    const msg = { devices: [{ ID: "0000:00:01.0", health: "Healthy", topology: { nodes: [{ ID: 1 }] } }] };
    expect(m.responseDeserialize(m.responseSerialize(msg))).toEqual(msg);
  });

  it("api() serves the service paths kubelet calls", () => {
    expect(api().v1beta1.Registration.service.Register.path).toBe("/v1beta1.Registration/Register");
    expect(api().v1beta1.DevicePlugin.service.GetPreferredAllocation.path).toBe(
      "/v1beta1.DevicePlugin/GetPreferredAllocation",
    );
    expect(api().pluginregistration.Registration.service.GetInfo.path).toBe("/pluginregistration.Registration/GetInfo");
  });

  it("embedded proto sources match proto/ (run npm run generate:proto when this fails)", () => {
    for (const [file, text] of Object.entries(protoSources)) {
      expect(readFileSync(new URL(`../../../../proto/${file}`, import.meta.url), "utf8"), file).toBe(text);
    }
  });
});
