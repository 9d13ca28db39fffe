// Errors core raises on a request; io/to-status.ts maps them to gRPC status codes.

/** The request names a device the pool does not have. */
export class UnknownDeviceError extends Error {
  readonly resource: string;
  readonly deviceId: string;
  constructor(resource: string, deviceId: string) {
    super(`Cannot allocate device "${deviceId}" of "${resource}": the resource has no such device`);
    this.name = "UnknownDeviceError";
    this.resource = resource;
    this.deviceId = deviceId;
  }
}

/** The request names a device that is currently Unhealthy. */
export class UnhealthyDeviceError extends Error {
  readonly resource: string;
  readonly deviceId: string;
  constructor(resource: string, deviceId: string, reason: string) {
    super(`Cannot allocate device "${deviceId}" of "${resource}": it is unhealthy: ${reason}`);
    this.name = "UnhealthyDeviceError";
    this.resource = resource;
    this.deviceId = deviceId;
  }
}

/** The request itself is malformed (wrong types, sizes). */
export class InvalidRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidRequestError";
  }
}
