// Notices when PostgreSQL, Temporal or Kafka stop accepting connections during the run (the
// fault suite stops them at times on shared machines): such a run's figures are not comparable.
import { connect } from 'node:net';

const reachable = (port: number, host = '127.0.0.1') =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ port, host, timeout: 1_000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });

export interface Outage {
  service: string;
  from: string;
  seconds: number;
}

/** Probes each service's port every second until `stop()`; returns the outages seen. */
export function watchOutages(services: Record<string, { host: string; port: number }>) {
  const outages: Outage[] = [];
  const downSince = new Map<string, number>();
  let probing = false;
  const close = (service: string, since: number) =>
    outages.push({ service, from: new Date(since).toISOString(), seconds: Math.round((Date.now() - since) / 1000) });
  const timer = setInterval(async () => {
    if (probing) return;
    probing = true;
    await Promise.all(
      Object.entries(services).map(async ([service, { host, port }]) => {
        const up = await reachable(port, host);
        const since = downSince.get(service);
        if (!up && since === undefined) downSince.set(service, Date.now());
        if (up && since !== undefined) {
          downSince.delete(service);
          close(service, since);
        }
      }),
    );
    probing = false;
  }, 1_000);
  timer.unref();
  return {
    stop(): Outage[] {
      clearInterval(timer);
      for (const [service, since] of downSince) close(service, since);
      return outages;
    },
  };
}
