// pino, JSON on every line; secrets are redacted wherever they would appear.
import { pino } from 'pino';
import type { Config } from './config.js';
import { logTraceFields } from './tracing.js';

export type Logger = pino.Logger;

/** What a module that only writes log lines needs of a logger (pino's Logger is one). */
export interface LogSink {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export function createLogger(config: Config, name: string): Logger {
  return pino({
    name,
    level: config.LOG_LEVEL,
    // trace_id and span_id of the span the line is written in (none outside one, or with tracing off).
    mixin: logTraceFields,
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.password'], censor: '[redacted]' },
  });
}
