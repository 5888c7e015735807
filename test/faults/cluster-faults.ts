// The fault suite's faults on the cluster profile (STACK_PROFILE=cluster, scripts/stack-cluster.sh):
// a Kafka broker leading partitions of the events topic SIGKILLed, and Temporal's history,
// matching and frontend services killed or restarted, each under the suite's load. Each returns
// the windows in which an answer other than 2xx is expected, for the suite's checker.
import { Kafka, logLevel } from 'kafkajs';
import type { FaultWindow } from './check.js';
import type { Load } from './load.js';
import { stackCommand, waitUntil } from './stack-control.js';

/** What a fault gets from the suite (fault-suite.test.ts's FaultContext). */
export interface ClusterFaultContext {
  load: Load;
  notes: string[];
  violations: string[];
}

/** How long a killed broker stays down before it is started again. */
export const BROKER_DOWN_MS = 20_000;
/**
 * After a Temporal service is back, its callers may still be told "unavailable" while the
 * membership ring settles and the history shards are acquired again: the documented 503s.
 */
const TEMPORAL_GRACE_MS = 30_000;

export type TemporalService = 'history' | 'matching' | 'frontend';

/** The leader of each partition of `topic`, and its replicas and in-sync replicas. */
async function partitionsOf(brokers: string[], topic: string) {
  const admin = new Kafka({ clientId: 'order-faults-admin', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2 /* TOPIC */, name: topic, configNames: ['min.insync.replicas'] }],
    });
    const minIsr = Number(
      resources[0]?.configEntries.find((entry) => entry.configName === 'min.insync.replicas')?.configValue,
    );
    return { partitions: topics[0]?.partitions ?? [], minIsr };
  } finally {
    await admin.disconnect();
  }
}

/** The broker leading the most partitions of `topic` (the lowest id among equals). */
function busiestLeader(partitions: { leader: number }[]): number {
  const led = new Map<number, number>();
  for (const { leader } of partitions) led.set(leader, (led.get(leader) ?? 0) + 1);
  return [...led].sort(([a, ledA], [b, ledB]) => ledB - ledA || a - b)[0]![0];
}

const leadersOf = (partitions: { partitionId: number; leader: number }[]) =>
  partitions.map(({ partitionId, leader }) => `p${partitionId}→${leader}`).join(' ');

/**
 * The broker leading the partitions being written (the events topic's busiest leader)
 * SIGKILLed under load, started again BROKER_DOWN_MS later. The topic is replicated 3 times
 * with min.insync.replicas=2, so the other two take over: no answer may be other than 2xx.
 */
export async function killPartitionLeader(
  { load, notes, violations }: ClusterFaultContext,
  brokers: string[],
  topic: string,
): Promise<FaultWindow[]> {
  const before = await partitionsOf(brokers, topic);
  const replicated = before.partitions.every(({ replicas, isr }) => replicas.length === 3 && isr.length === 3);
  if (!replicated || before.minIsr !== 2) {
    violations.push(`${topic} is not 3 in-sync replicas with min.insync.replicas=2: ${JSON.stringify(before)}`);
  }
  const leader = busiestLeader(before.partitions);
  const finishedBefore = load.finished();
  await stackCommand('kill', `kafka-${leader}`);
  const downAt = Date.now();
  try {
    await waitUntil(
      `${BROKER_DOWN_MS / 1000} s with broker ${leader} down`,
      () => Date.now() - downAt >= BROKER_DOWN_MS,
      BROKER_DOWN_MS + 5_000,
    );
  } finally {
    await stackCommand('start', `kafka-${leader}`);
  }
  const upAt = Date.now();
  const during = (await partitionsOf(brokers, topic)).partitions;
  notes.push(
    `broker ${leader} SIGKILLed (leaders before: ${leadersOf(before.partitions)}), started again after ` +
      `${Math.round((upAt - downAt) / 1000)} s (leaders then: ${leadersOf(during)}); ` +
      `${load.finished() - finishedBefore} orders finished meanwhile`,
  );
  if (during.some(({ leader: current }) => current === -1))
    violations.push('a partition had no leader after the restart');
  await waitUntil(
    'an order finished after the broker came back',
    () => load.runs.some((run) => (run.endedAt ?? 0) > upAt),
    120_000,
  );
  return [];
}

/**
 * A Temporal service killed (SIGKILL: a crash) or restarted (SIGTERM, then started again)
 * under load. Meanwhile, and TEMPORAL_GRACE_MS after it is back, the API may answer 503
 * (Temporal unavailable): the documented answer, counted apart by the checker.
 */
export async function restartTemporalService(
  { load, notes, violations }: ClusterFaultContext,
  service: TemporalService,
  how: 'SIGKILL' | 'SIGTERM',
): Promise<FaultWindow[]> {
  const inFlight = load.inFlight();
  const from = Date.now();
  let restartedAt = from;
  try {
    await stackCommand(how === 'SIGKILL' ? 'kill' : 'stop', `temporal-${service}`);
  } finally {
    await stackCommand('start', `temporal-${service}`);
    restartedAt = Date.now();
  }
  notes.push(
    `temporal-${service} ${how === 'SIGKILL' ? 'SIGKILLed' : 'stopped (SIGTERM)'} with ${inFlight} requests in flight, ` +
      `serving again after ${Math.round((restartedAt - from) / 1000)} s`,
  );
  if (inFlight === 0) violations.push(`no request was in flight when temporal-${service} went down`);
  await waitUntil(
    `an order finished after temporal-${service} came back`,
    () => load.runs.some((run) => (run.endedAt ?? 0) > restartedAt),
    120_000,
  );
  const answered503 = load.records.filter((record) => record.startedAt >= from && record.outcome === 503).length;
  notes.push(`${answered503} answers 503 from the fault until ${TEMPORAL_GRACE_MS / 1000} s after the restart`);
  return [{ from, to: restartedAt + TEMPORAL_GRACE_MS, allow: ['503'] }];
}

/**
 * A Temporal service SIGKILLed and kept down for `downMs` (the deadlines of scenario o come due
 * meanwhile), then started again; the 503 window as restartTemporalService's.
 */
export async function stopTemporalServiceFor(
  notes: string[],
  service: TemporalService,
  downMs: number,
): Promise<FaultWindow[]> {
  const from = Date.now();
  let restartedAt = from;
  try {
    await stackCommand('kill', `temporal-${service}`);
    await waitUntil(`${downMs} ms with temporal-${service} down`, () => Date.now() - from >= downMs, downMs + 5_000);
  } finally {
    await stackCommand('start', `temporal-${service}`);
    restartedAt = Date.now();
  }
  notes.push(`temporal-${service} SIGKILLed, started again after ${Math.round((restartedAt - from) / 1000)} s`);
  return [{ from, to: restartedAt + TEMPORAL_GRACE_MS, allow: ['503'] }];
}
