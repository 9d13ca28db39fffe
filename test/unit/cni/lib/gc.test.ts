import { describe, expect, it } from "vitest";
import { validAttachments } from "../../../../cni/lib/gc.js";

describe("validAttachments()", () => {
  it("reads cni.dev/valid-attachments", () => {
    expect(validAttachments({ "cni.dev/valid-attachments": [{ containerID: "c1", ifname: "net1" }] })).toEqual([
      { containerID: "c1", ifname: "net1" },
    ]);
  });

  it("falls back to the legacy cni.dev/attachments key", () => {
    expect(validAttachments({ "cni.dev/attachments": [{ containerID: "c2", ifname: "net2" }] })).toEqual([
      { containerID: "c2", ifname: "net2" },
    ]);
  });

  it("an absent list means no attachment is valid", () => {
    expect(validAttachments({})).toEqual([]);
  });

  it.each([
    [{ "cni.dev/valid-attachments": "c1" }, 'Cannot use config field "cni.dev/valid-attachments": expected an array'],
    [
      { "cni.dev/valid-attachments": [{ containerID: "c1" }] },
      'Cannot use config field "cni.dev/valid-attachments[0]": expected {"containerID": string, "ifname": string}',
    ],
  ])("rejects %j with code 7", (raw, msg) => {
    expect(() => validAttachments(raw)).toThrow(expect.objectContaining({ code: 7, message: msg }));
  });
});
