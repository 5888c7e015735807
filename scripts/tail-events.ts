// npm run events: tails ordering.orders (and with --dlq ordering.commands.dlq) and prints each
// event readably. Reads as a consumer group of its own that commits nothing, so it never moves
// anyone's offsets. Brokers come from the configuration (KAFKA_BROKERS). Ctrl-C stops it.
//
//   npm run events [-- --from-beginning] [-- --dlq]
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { KafkaMessage } from 'kafkajs';
import { ConfigError, loadConfig } from '../src/config.js';
import { createKafka, ORDER_COMMANDS_DLQ_TOPIC, ORDER_EVENTS_TOPIC, orderTopics } from '../src/kafka/index.js';

const USAGE = `Usage: npm run events [-- --from-beginning] [-- --dlq]

Prints each event of ${ORDER_EVENTS_TOPIC} as it is published: time, type, orderId, ce_id, payload.
  --from-beginning  start with the oldest event kept on the topic, not with the next one
  --dlq             also print the dead-lettered commands of ${ORDER_COMMANDS_DLQ_TOPIC}, with why
Brokers: KAFKA_BROKERS (default 127.0.0.1:9092). Ctrl-C stops.`;

const color = process.stdout.isTTY && process.env.NO_COLOR === undefined;
const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
const bold = (text: string) => paint(1, text);
const dim = (text: string) => paint(2, text);
const TYPE_COLORS: Record<string, number> = { OrderCreated: 36, OrderCompleted: 32, OrderCancelled: 33 };

function headersOf(message: KafkaMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value !== undefined) headers[name] = (Array.isArray(value) ? value[0] : value)?.toString('utf8') ?? '';
  }
  return headers;
}

/** The value as compact JSON when it is JSON, else as a JSON string of its text. */
function compact(value: Buffer | null): { text: string; parsed: unknown } {
  const raw = value?.toString('utf8') ?? '';
  try {
    const parsed: unknown = JSON.parse(raw);
    return { text: JSON.stringify(parsed), parsed };
  } catch {
    return { text: JSON.stringify(raw), parsed: undefined };
  }
}

/** One block per event: a headline (time, type, orderId, ce_id), then the payload, then (DLQ) why. */
function formatEvent(topic: string, partition: number, message: KafkaMessage): string {
  const headers = headersOf(message);
  const { text, parsed } = compact(message.value);
  const payloadOrderId =
    parsed !== null && typeof parsed === 'object' && 'orderId' in parsed ? String(parsed.orderId) : undefined;
  const deadLetter = topic.endsWith(ORDER_COMMANDS_DLQ_TOPIC);
  // Events are keyed by orderId; a dead-lettered command's key is whatever its sender chose.
  const key = deadLetter ? undefined : message.key?.toString('utf8');
  const orderId = headers.ce_subject ?? payloadOrderId ?? key ?? '-';
  const time = headers.ce_time ?? new Date(Number(message.timestamp)).toISOString();
  const type = headers.ce_type ?? '(no ce_type)';
  const label = deadLetter ? paint(31, `DLQ ${type}`) : paint(TYPE_COLORS[type] ?? 0, type);
  const lines = [
    `${time}  ${bold(label)}  orderId ${orderId}  ce_id ${headers.ce_id ?? '-'}  ${dim(`${topic}/${partition}@${message.offset}`)}`,
    `  ${text}`,
  ];
  // The trace to look up in Jaeger (or a collector's backend) when the service traces.
  if (headers.ce_traceparent !== undefined) lines.push(`  ${dim(`trace ${headers.ce_traceparent.split('-')[1]}`)}`);
  if (deadLetter) {
    const why = Object.entries(headers)
      .filter(([name]) => name.startsWith('dlq_') && name !== 'dlq_original_topic')
      .map(([name, value]) => `${name.slice(4)}=${value}`);
    lines.push(`  ${paint(31, 'why')} ${why.join('  ')}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'from-beginning': { type: 'boolean', default: false },
      dlq: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const config = loadConfig();
  const logger = {
    info: () => {},
    warn: (_details: object, message: string) => console.error(dim(message)),
    error: (_details: object, message: string) => console.error(paint(31, message)),
  };
  const kafka = createKafka({ ...config, KAFKA_CLIENT_ID: 'order-events-tail' }, logger);

  // The environment's topics: the catalog's names after KAFKA_TOPIC_PREFIX.
  const topicsOfEnvironment = orderTopics(config.KAFKA_TOPIC_PREFIX);
  const wanted = values.dlq
    ? [topicsOfEnvironment.events, topicsOfEnvironment.deadLetters]
    : [topicsOfEnvironment.events];
  const admin = kafka.admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics().finally(() => admin.disconnect()));
  const topics = wanted.filter((topic) => existing.has(topic));
  for (const topic of wanted.filter((topic) => !existing.has(topic))) {
    console.error(`${topic} does not exist yet (nothing was ever published there): not tailing it`);
  }
  if (topics.length === 0) process.exit(1);

  const consumer = kafka.consumer({ groupId: `order-events-tail-${randomUUID()}`, allowAutoTopicCreation: false });
  let stopping = false;
  const stop = async () => {
    if (stopping) process.exit(130); // a second Ctrl-C: leave at once
    stopping = true;
    console.error(dim('\nstopping'));
    await consumer.disconnect().catch(() => {});
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: values['from-beginning'] });
  console.error(
    dim(
      `tailing ${topics.join(' and ')} on ${config.KAFKA_BROKERS}` +
        `${values['from-beginning'] ? ' from the beginning' : ''}; Ctrl-C stops`,
    ),
  );
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      process.stdout.write(`${formatEvent(topic, partition, message)}\n\n`);
    },
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
