// The one place that reads process.env. Every variable is described, defaulted to the
// local stack, and validated at start so a bad value fails fast with its name.
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

// 0 asks the OS for a free port (tests do).
const Port = Type.Integer({ minimum: 0, maximum: 65535 });
const Millis = Type.Integer({ minimum: 1, maximum: 600_000 });

export const ConfigSchema = Type.Object({
  DATABASE_URL: Type.String({
    pattern: '^postgres(ql)?://',
    default: 'postgres://postgres@127.0.0.1:5432/orders',
    description: 'PostgreSQL connection string of the order database.',
  }),
  DATABASE_POOL_MAX: Type.Integer({
    minimum: 1,
    maximum: 200,
    default: 20,
    description: 'Maximum connections in each process’s PostgreSQL pool.',
  }),
  TEMPORAL_ADDRESS: Type.String({
    minLength: 3,
    default: '127.0.0.1:7233',
    description: 'host:port of the Temporal frontend.',
  }),
  TEMPORAL_NAMESPACE: Type.String({
    minLength: 1,
    default: 'default',
    description: 'Temporal namespace holding the order workflows.',
  }),
  TEMPORAL_TASK_QUEUE: Type.String({
    minLength: 1,
    default: 'orders',
    description: 'Task queue the worker polls and the API starts workflows on.',
  }),
  KAFKA_BROKERS: Type.String({
    pattern: '^[^,\\s]+:\\d+(,[^,\\s]+:\\d+)*$',
    default: '127.0.0.1:9092',
    description: 'Comma-separated host:port list of Kafka bootstrap brokers.',
  }),
  KAFKA_CLIENT_ID: Type.String({
    minLength: 1,
    default: 'order-service',
    description: 'Kafka client id, visible in broker logs and quotas.',
  }),
  EVENT_SOURCE: Type.String({
    minLength: 1,
    default: '/acme/ordering/order-service',
    description: 'CloudEvents ce_source of every published order event.',
  }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Interface the API listens on.' }),
  PORT: { ...Port, default: 3000, description: 'Port the API listens on.' },
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info', description: 'pino log level of both processes.' },
  ),
  CREATE_ORDER_TIMEOUT_MS: {
    ...Millis,
    default: 10_000,
    description: 'How long POST /orders waits for the order to be committed before answering 202.',
  },
  TRANSITION_WAIT_MS: {
    ...Millis,
    default: 5_000,
    description: 'How long cancel/complete wait for the new status to be persisted before answering 202.',
  },
  WORKER_MAX_CONCURRENT_ACTIVITIES: Type.Integer({
    minimum: 1,
    maximum: 1000,
    default: 100,
    description: 'Activities one worker runs at once.',
  }),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: Type.Integer({
    minimum: 2,
    maximum: 1000,
    default: 40,
    description: 'Workflow tasks one worker runs at once.',
  }),
});

export type Config = Static<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** The environment variable names the app reads (used by the docker-compose drift test). */
export const CONFIG_VARIABLES = Object.keys(ConfigSchema.properties) as (keyof Config)[];

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const name of CONFIG_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  // Convert turns "3000" into 3000; Default fills what is unset.
  const candidate = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, raw));
  const problems = [...Value.Errors(ConfigSchema, candidate)].map(
    (error) => `${error.path.slice(1)}: ${error.message} (got ${JSON.stringify(error.value)})`,
  );
  if (problems.length > 0) throw new ConfigError(problems);
  return candidate as Config;
}

export function kafkaBrokers(config: Config): string[] {
  return config.KAFKA_BROKERS.split(',');
}
