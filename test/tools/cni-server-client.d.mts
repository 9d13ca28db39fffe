// Types of cni-server-client.mjs, for the TypeScript tests that import it.
export interface ServerReply {
  status: number;
  stdout: string;
  stderr: string;
}
export function requestFrame(env: Readonly<Record<string, string | undefined>>, stdin: string | Buffer): Buffer;
export function parseResponse(b: Buffer): ServerReply;
export function exchange(socketPath: string, bytes: Buffer): Promise<Buffer>;
export function callServer(
  socketPath: string,
  env: Readonly<Record<string, string | undefined>>,
  stdin: string | Buffer,
): Promise<ServerReply & { ms: number }>;
