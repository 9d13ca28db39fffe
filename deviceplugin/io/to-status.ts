// The one mapping from core errors to gRPC status (grpc-js serverErrorToStatus):
// unknown device → INVALID_ARGUMENT, unhealthy device → FAILED_PRECONDITION,
// malformed request → INVALID_ARGUMENT, anything else → INTERNAL with details.
import { status, type ServiceError } from "@grpc/grpc-js";
import { InvalidRequestError, UnhealthyDeviceError, UnknownDeviceError } from "../core/errors.js";

export function toStatus(err: unknown): Partial<ServiceError> & { code: status; details: string } {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof UnknownDeviceError || err instanceof InvalidRequestError) {
    return { code: status.INVALID_ARGUMENT, details: message };
  }
  if (err instanceof UnhealthyDeviceError) return { code: status.FAILED_PRECONDITION, details: message };
  return { code: status.INTERNAL, details: message };
}
