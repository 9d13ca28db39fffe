// The server's log: one JSON object per line on stderr, as the device plugin logs (the same logger).
export { createLogger, isLogLevel, type Logger, type LogLevel } from "../../deviceplugin/io/logger.js";
