// Temporary-netns commands, kept for existing importers: the helper and native/client now have them
// (cmd.netnsCreate / cmd.netnsDelete, PROTOCOL.md). New code uses those, or deleteTmpNetns in netdev.ts.
import { cmd } from "../../native/client/index.js";

export const netnsCmd = {
  create: (a: { path: string }) => cmd.netnsCreate(a),
  delete: (a: { path: string }) => cmd.netnsDelete(a),
};
