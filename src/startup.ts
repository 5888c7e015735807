// Start-up checks: a process proves it can reach each service it needs before it serves, so a
// wrong address, CA, certificate or password stops it at once with one line naming the
// connection (as configured, never a secret) and the cause, not a stack trace minutes later.
import { connect as tlsConnect } from 'node:tls';
import { ConfigError, type TemporalConnectionSettings } from './config.js';
import { within } from './deadline.js';

export class StartupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/** The messages of an error and of its causes, outermost first, each once. */
export function causesOf(error: unknown): string {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    const message = current instanceof Error ? current.message : String(current);
    const code = (current as { code?: unknown }).code;
    const text = typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
    if (text !== '' && !messages.some((seen) => seen.includes(text))) messages.push(text);
    current = current instanceof Error ? current.cause : undefined;
  }
  return messages.join(': ') || 'unknown error';
}

/**
 * Runs `attempt` (a connect, a ping) within `timeoutMs`; any failure becomes a StartupError
 * that says what could not be reached and why.
 */
export async function reach<T>(
  what: string,
  attempt: () => Promise<T>,
  { timeoutMs = 20_000, explain }: { timeoutMs?: number; explain?: () => Promise<string | undefined> } = {},
): Promise<T> {
  try {
    return await within(timeoutMs, 'the answer', attempt());
  } catch (error) {
    const explained = await explain?.().catch(() => undefined);
    const detail = explained === undefined ? '' : ` (${explained})`;
    throw new StartupError(`cannot reach ${what}: ${causesOf(error)}${detail}`, { cause: error });
  }
}

/** The one line a process prints when it cannot start: the message of a known failure, else the error. */
export function startFailureLine(processName: string, error: unknown): string {
  const detail =
    error instanceof StartupError || error instanceof ConfigError
      ? (error as Error).message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  return `${processName} failed to start: ${detail}`;
}

/**
 * gRPC reports a refused TLS handshake only as "failed to connect before the deadline": a
 * handshake of our own with the same CA and certificate says what the server or we refused.
 */
export function temporalTlsProblem({ address, tls }: TemporalConnectionSettings): Promise<string | undefined> {
  const [host = '', port = ''] = address.startsWith('[') ? address.slice(1).split(']:') : address.split(':');
  if (tls === undefined) return Promise.resolve(undefined);
  const servername = tls.serverNameOverride ?? (/^[\d.]+$|:/.test(host) ? undefined : host);
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host,
      port: Number(port),
      ...(servername !== undefined && { servername }),
      ...(tls.serverRootCACertificate !== undefined && { ca: tls.serverRootCACertificate }),
      ...(tls.clientCertPair !== undefined && { cert: tls.clientCertPair.crt, key: tls.clientCertPair.key }),
      ALPNProtocols: ['h2'],
      timeout: 5_000,
    });
    const done = (problem: string | undefined) => {
      socket.destroy();
      resolve(problem);
    };
    socket.once('secureConnect', () => done(undefined));
    socket.once('timeout', () => done('TLS handshake: no answer within 5 s'));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done(
        `TLS handshake: ${error.message}${error.code && !error.message.includes(error.code) ? ` (${error.code})` : ''}`,
      ),
    );
  });
}
