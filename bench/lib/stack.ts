// Which local stack the bench measures (--stack): the default profile (the Temporal CLI's dev
// server on SQLite, one Kafka broker) or the cluster profile (scripts/stack-cluster.sh: Temporal's
// four services on PostgreSQL, three Kafka brokers). Every subject of a run, the yardstick and
// the bare baselines included, runs on the same one, so the ratios compare like with like.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type StackName = 'dev' | 'cluster';

/** What the results JSON says of the stack a run measured. */
export interface StackFacts {
  name: StackName;
  temporal: string;
  kafka: string;
}

const FACTS: Record<StackName, StackFacts> = {
  dev: {
    name: 'dev',
    temporal: 'Temporal CLI 1.9.1 dev server (server 1.32, one process, SQLite)',
    kafka: '1 KRaft broker, 1 replica',
  },
  cluster: {
    name: 'cluster',
    temporal:
      'Temporal server 1.32.2: frontend, history, matching, worker as 4 processes on PostgreSQL (SQL visibility), 4 shards',
    kafka: '3 KRaft brokers, 3 replicas, min.insync.replicas=2',
  },
};

let current: StackName = 'dev';

export function parseStackName(raw: string | undefined): StackName {
  const name = raw === undefined || raw === '' || raw === 'default' ? 'dev' : raw;
  if (name !== 'dev' && name !== 'cluster') throw new Error(`--stack takes dev or cluster; got "${raw}"`);
  return name;
}

/**
 * Makes `name` the stack of this process and of every process it starts: for the cluster, starts
 * it (scripts/stack.sh, STACK_PROFILE=cluster) and sets TEMPORAL_ADDRESS and KAFKA_BROKERS to
 * its frontend and brokers. Before any configuration is loaded.
 */
export function useStack(name: StackName): StackFacts {
  current = name;
  if (name === 'cluster') {
    process.env.STACK_PROFILE = 'cluster';
    const stack = (...args: string[]) =>
      execFileSync('bash', ['scripts/stack.sh', ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
    stack('start');
    for (const line of stack('env').split('\n')) {
      const [key, value] = line.split('=');
      if (key !== undefined && value !== undefined) process.env[key] = value;
    }
  }
  return FACTS[name];
}

export const stackFacts = (): StackFacts => FACTS[current];

/** Pid files (relative to the repository) of the stack's Temporal and Kafka processes, for their CPU. */
export function stackPidFiles(): { temporal: string[]; kafka: string[] } {
  if (current === 'dev') return { temporal: ['.stack/temporal/temporal.pid'], kafka: ['.stack/kafka/kafka.pid'] };
  const cluster = `${ROOT}.stack/cluster`;
  const temporal = ['frontend', 'history', 'matching', 'worker'].map(
    (service) => `.stack/cluster/temporal/${service}.pid`,
  );
  const kafka = existsSync(cluster)
    ? readdirSync(cluster)
        .filter((entry) => /^kafka-\d+$/.test(entry))
        .map((entry) => `.stack/cluster/${entry}/kafka.pid`)
    : [];
  return { temporal, kafka };
}
