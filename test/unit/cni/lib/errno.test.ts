import { describe, expect, it } from "vitest";
import { CniError } from "../../../../cni/lib/errors.js";
import { cniErrorFromNative, codeForFsError, codeForKernelErrno, isNotFound } from "../../../../cni/lib/errno.js";
import { makeNativeError } from "../fake-native.js";

describe("codeForKernelErrno()", () => {
  it.each([
    ["EBUSY", 11],
    ["EAGAIN", 11],
    ["EINTR", 11],
    ["EINVAL", 100],
    ["EPERM", 100],
    [null, 100],
  ] as const)("maps %s to %i", (errname, code) => {
    expect(codeForKernelErrno(errname)).toBe(code);
  });
});

describe("codeForFsError()", () => {
  it.each([
    ["EACCES", 5],
    ["EROFS", 5],
    ["ENOSPC", 5],
    ["EAGAIN", 11],
    ["EBUSY", 11],
  ])("maps %s to %i", (code, want) => {
    expect(codeForFsError(Object.assign(new Error("x"), { code }))).toBe(want);
  });
});

describe("cniErrorFromNative()", () => {
  it("names the action and the object from the input and keeps the kernel's words", () => {
    const native = makeNativeError({
      message: 'Cannot link-add "acntmp1": Device or resource busy',
      errname: "EBUSY",
      errno: 16,
    });
    const err = cniErrorFromNative(native, 'create macvlan "net1" on master', "eth1");
    expect(err).toBeInstanceOf(CniError);
    expect(err).toMatchObject({
      code: 11,
      message: 'Cannot create macvlan "net1" on master "eth1": Device or resource busy',
    });
    expect(err.cause).toBe(native);
  });

  it("maps a helper argument rejection (exit 2) to code 7", () => {
    const native = makeNativeError({ message: 'Cannot parse "mac": not a unicast MAC', exitCode: 2, op: "parse" });
    expect(cniErrorFromNative(native, "set MAC of", "net1").code).toBe(7);
  });

  it("maps a helper that did not answer (no errno) to code 101", () => {
    const native = makeNativeError({ message: "helper killed by SIGSEGV", exitCode: null, signal: "SIGSEGV" });
    expect(cniErrorFromNative(native, "delete", "net1")).toMatchObject({
      code: 101,
      message: 'Cannot delete "net1": helper killed by SIGSEGV',
    });
  });

  it("isNotFound() is true for ENODEV and ENOENT only", () => {
    expect(isNotFound(makeNativeError({ message: "x", errname: "ENODEV" }))).toBe(true);
    expect(isNotFound(makeNativeError({ message: "x", errname: "ENOENT" }))).toBe(true);
    expect(isNotFound(makeNativeError({ message: "x", errname: "EBUSY" }))).toBe(false);
    expect(isNotFound(new Error("ENODEV"))).toBe(false);
  });
});
