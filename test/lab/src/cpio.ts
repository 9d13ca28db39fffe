// A writer for the "newc" cpio format the kernel unpacks as initramfs.
// Writing it here (instead of running cpio) lets the archive hold device
// nodes and root-owned files without privileges, and keeps it reproducible.

export type CpioEntry =
  | { kind: "dir"; path: string; mode?: number }
  | { kind: "file"; path: string; data: Buffer; mode?: number }
  | { kind: "symlink"; path: string; target: string }
  | { kind: "chardev"; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(value: number): string {
  return value.toString(16).padStart(8, "0");
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function header(ino: number, mode: number, size: number, nameSize: number, rdev: [number, number]): string {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
  // rdevmajor, rdevminor, namesize, check
  return ["070701", ino, mode, 0, 0, 1, 0, size, 0, 0, rdev[0], rdev[1], nameSize, 0]
    .map((field) => (typeof field === "string" ? field : hex8(field)))
    .join("");
}

function record(ino: number, name: string, mode: number, data: Buffer, rdev: [number, number] = [0, 0]): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`);
  const head = Buffer.from(header(ino, mode, data.length, nameBytes.length, rdev), "ascii");
  return [head, nameBytes, pad4(head.length + nameBytes.length), data, pad4(data.length)];
}

export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const entry of entries) {
    const name = entry.path.replace(/^\/+/, "");
    switch (entry.kind) {
      case "dir":
        parts.push(...record(ino++, name, S_IFDIR | (entry.mode ?? 0o755), Buffer.alloc(0)));
        break;
      case "file":
        parts.push(...record(ino++, name, S_IFREG | (entry.mode ?? 0o644), entry.data));
        break;
      case "symlink":
        parts.push(...record(ino++, name, S_IFLNK | 0o777, Buffer.from(entry.target)));
        break;
      case "chardev":
        parts.push(
          ...record(ino++, name, S_IFCHR | (entry.mode ?? 0o600), Buffer.alloc(0), [entry.major, entry.minor]),
        );
        break;
    }
  }
  parts.push(...record(0, "TRAILER!!!", 0, Buffer.alloc(0)));
  return Buffer.concat(parts);
}
