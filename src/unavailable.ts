// Telling "a dependency is unreachable right now, retry later" apart from every other failure:
// the API answers those with 503, the command consumer retries them instead of dead-lettering.

/** Thrown where we find out ourselves that a dependency cannot take a command right now. */
export class DependencyUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DependencyUnavailableError';
  }
}

/** Errors that mean a dependency (PostgreSQL, Temporal) is unreachable right now: 503, retry later. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08006',
  // PgBouncer's own errors: server conn crashed, cannot connect to server, query_wait_timeout, …
  '08P01',
]);

export function isUnavailable(error: unknown): boolean {
  if (error instanceof DependencyUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  // pg's pool and the Temporal client say so in their error names and messages.
  if (error.name === 'ServiceError' || error.name === 'TransportError') return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|UNAVAILABLE/i.test(
    error.message,
  );
}
