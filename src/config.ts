// The one place that reads process.env. Every variable is described, defaulted to the
// local stack, and validated at start so a bad value fails fast with its name.
import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

// 0 asks the OS for a free port (tests do).
const Port = Type.Integer({ minimum: 0, maximum: 65535 });
const Millis = Type.Integer({ minimum: 1, maximum: 600_000 });

export const ConfigSchema = Type.Object({
  DATABASE_URL: Type.String({
    pattern: '^postgres(ql)?://',
    default: 'postgres://postgres@127.0.0.1:5432/orders',
    description:
      'PostgreSQL connection string of the order database. For TLS add ' +
      '`?sslmode=verify-full&sslrootcert=/path/to/ca.pem` (the server’s certificate checked against that CA and the host).',
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
  TEMPORAL_TLS: Type.Boolean({
    default: false,
    description:
      'TLS to the Temporal frontend, trusting the system’s CAs (Temporal Cloud). On by itself when any ' +
      'TEMPORAL_TLS_* file or TEMPORAL_API_KEY is set.',
  }),
  TEMPORAL_TLS_CA_FILE: Type.String({
    default: '',
    description: 'PEM file of the CA that signed the Temporal frontend’s certificate, instead of the system’s CAs.',
  }),
  TEMPORAL_TLS_CERT_FILE: Type.String({
    default: '',
    description: 'PEM file of this process’s client certificate, for mTLS (with TEMPORAL_TLS_KEY_FILE).',
  }),
  TEMPORAL_TLS_KEY_FILE: Type.String({
    default: '',
    description: 'PEM file of the private key of TEMPORAL_TLS_CERT_FILE.',
  }),
  TEMPORAL_TLS_SERVER_NAME: Type.String({
    default: '',
    description: 'Name to verify the frontend’s certificate against, when it is not the host of TEMPORAL_ADDRESS.',
  }),
  TEMPORAL_API_KEY: Type.String({
    default: '',
    description: 'API key sent as a bearer token on every Temporal call (Temporal Cloud); implies TLS.',
  }),
  TEMPORAL_PAYLOAD_KEYS: Type.String({
    default: '',
    description:
      'Keys that encrypt what this service sends to Temporal (workflow and activity arguments and results, ' +
      'Update arguments, memos, summaries): comma-separated `<key id>:<base64 of 32 random bytes>` (AES-256-GCM; ' +
      '`openssl rand -base64 32`). Set it in production, the same list on the API, the worker and the ops tools. ' +
      'Every key listed decrypts; TEMPORAL_PAYLOAD_KEY_ID encrypts: rotate by adding a key, then making it the ' +
      'one to encrypt with, and drop the old one once no history still needs it. Empty: payloads go to Temporal ' +
      'in clear text (both processes log a warning at start). Encrypted or not, payloads written without ' +
      'encryption are always read.',
  }),
  TEMPORAL_PAYLOAD_KEY_ID: Type.String({
    default: '',
    description: 'Id (in TEMPORAL_PAYLOAD_KEYS) of the key new payloads are encrypted with; empty: the first listed.',
  }),
  CODEC_CORS_ORIGINS: Type.String({
    default: 'http://127.0.0.1:8233,http://localhost:8233',
    description:
      'Comma-separated origins (scheme://host:port) of the Temporal Web UIs allowed to call the codec server ' +
      '(`/codec/decode`, `/codec/encode`) from the browser; empty, none.',
  }),
  TEMPORAL_TASK_QUEUE: Type.String({
    minLength: 1,
    default: 'orders',
    description: 'Task queue the worker polls and the API starts workflows on.',
  }),
  TEMPORAL_DEPLOYMENT_NAME: Type.String({
    minLength: 1,
    maxLength: 200,
    // Temporal writes a version as `<deployment>.<build id>`: a dot in the name would make it ambiguous.
    pattern: '^[^.\\s]+$',
    default: 'order-service',
    description:
      'Temporal Worker Deployment the worker belongs to: one per service and environment, the same for every build.',
  }),
  TEMPORAL_BUILD_ID: Type.String({
    maxLength: 255,
    pattern: '^\\S*$',
    default: '',
    description:
      'Build id of the worker within its Worker Deployment: one per build of the code. Empty: `<package.json ' +
      'version>+<git commit>` (e.g. `0.1.0+abc1234`), from `build-info.json` that `npm run build` writes beside ' +
      'the compiled worker (the Dockerfile passes the commit as the build argument GIT_COMMIT), else from `.git`.',
  }),
  TEMPORAL_WORKER_VERSIONING: Type.Boolean({
    default: false,
    description:
      'Worker Versioning: `true` in production. The worker then serves only the workflow tasks Temporal routes to ' +
      'its build, and a new build gets none until an operator makes it current (`temporal worker deployment ' +
      'set-current-version`; README, Deploying): rollouts, ramps and rollbacks under the operator’s control. Off by ' +
      'default because every commit is a new build id: `npm start`, the tests and CI would otherwise wait for an ' +
      'operator step. Off, the worker still names its deployment and build to Temporal, unversioned.',
  }),
  KAFKA_BROKERS: Type.String({
    pattern: '^[^,\\s]+:\\d+(,[^,\\s]+:\\d+)*$',
    default: '127.0.0.1:9092',
    description: 'Comma-separated host:port list of Kafka bootstrap brokers.',
  }),
  KAFKA_SSL: Type.Boolean({
    default: false,
    description: 'TLS to the Kafka brokers, trusting the system’s CAs. On by itself when KAFKA_SSL_CA_FILE is set.',
  }),
  KAFKA_SSL_CA_FILE: Type.String({
    default: '',
    description: 'PEM file of the CA that signed the brokers’ certificates, instead of the system’s CAs.',
  }),
  KAFKA_SASL_MECHANISM: Type.Union(
    [Type.Literal(''), Type.Literal('plain'), Type.Literal('scram-sha-256'), Type.Literal('scram-sha-512')],
    {
      default: '',
      description:
        'SASL authentication to the brokers: plain (only over TLS), scram-sha-256 or scram-sha-512; empty, none.',
    },
  ),
  KAFKA_SASL_USERNAME: Type.String({ default: '', description: 'SASL user name (with KAFKA_SASL_MECHANISM).' }),
  KAFKA_SASL_PASSWORD: Type.String({ default: '', description: 'SASL password (with KAFKA_SASL_MECHANISM).' }),
  KAFKA_TOPIC_PREFIX: Type.String({
    default: '',
    maxLength: 100,
    pattern: '^[A-Za-z0-9._-]*$',
    description:
      'Put before the name of every topic and consumer group the service uses (test. → test.ordering.orders): ' +
      'environments sharing one cluster do not see each other. Empty keeps the catalog’s names.',
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
    description:
      'How long a transition (complete, cancel) waits for its workflow Update to commit before answering 202.',
  },
  AMENDMENT_WINDOW_MS: Type.Integer({
    minimum: 1_000,
    maximum: 30 * 24 * 3_600_000,
    default: 30 * 60_000,
    description:
      'How long a confirmed order can be amended before it awaits fulfilment by itself (a durable timer of its workflow).',
  }),
  ARCHIVE_AFTER_MS: Type.Integer({
    minimum: 1_000,
    maximum: 10 * 365 * 24 * 3_600_000,
    default: 90 * 24 * 3_600_000,
    description:
      'How long after it completed or was cancelled an order is archived, by the archive sweep (ARCHIVE_SWEEP_INTERVAL_MS).',
  }),
  ARCHIVE_SWEEP_INTERVAL_MS: Type.Integer({
    minimum: 1_000,
    maximum: 7 * 24 * 3_600_000,
    default: 3_600_000,
    description:
      'How often a Temporal Schedule starts the archive sweep, which archives every ended order whose ARCHIVE_AFTER_MS ' +
      'has passed: an order is archived at most this long after it is due.',
  }),
  ARCHIVE_BATCH_SIZE: Type.Integer({
    minimum: 1,
    maximum: 10_000,
    default: 500,
    description: 'Orders the archive sweep takes per page (one transaction per order; the page is re-read after it).',
  }),
  ORDER_CONTINUE_AS_NEW_AFTER: Type.Integer({
    minimum: 5,
    maximum: 1_000,
    default: 500,
    description:
      'Transitions one workflow run carries out before it continues as new (its pending transitions and deadlines ' +
      'move over): keeps each run far from Temporal’s limits of 2,000 Updates and 50 MB of history.',
  }),
  API_KEYS: Type.String({
    default: '{}',
    description:
      'JSON object mapping each bearer token to its scopes (orders:create, orders:read, orders:manage), or to ' +
      '{"name": "ops-1", "scopes": [...]}: the name is who asked in the status history and events. ' +
      'Unset means no token is accepted; `npm start` generates dev tokens.',
  }),
  JWT_ISSUER: Type.String({
    default: '',
    description:
      'Issuer (`iss`) of the access tokens (JWTs) of the identity provider. Set it with JWT_AUDIENCE and ' +
      'JWT_JWKS_URL to accept those tokens besides API_KEYS; all three empty, none is accepted.',
  }),
  JWT_AUDIENCE: Type.String({
    default: '',
    description: 'Audience (`aud`) an access token must name: this service’s identifier at the identity provider.',
  }),
  JWT_JWKS_URL: Type.String({
    default: '',
    description:
      'https:// URL of the identity provider’s JSON Web Key Set (http:// only on localhost or 127.0.0.1). ' +
      'Fetched on the first token, cached, fetched again when a token names a key it does not hold.',
  }),
  JWT_ALGORITHMS: Type.String({
    default: 'RS256,ES256,PS256,EdDSA',
    description:
      'Comma-separated signature algorithms an access token may use; asymmetric only ' +
      '(RS*, PS*, ES* with 256, 384 or 512; EdDSA, Ed25519): a shared secret (HS*) or no signature never passes.',
  }),
  RATE_LIMIT_PER_MINUTE: Type.Integer({
    minimum: 0,
    maximum: 10_000_000,
    default: 6000,
    description: 'Requests per minute allowed per token (per address without one); 0 switches the limit off.',
  }),
  BODY_LIMIT_BYTES: Type.Integer({
    minimum: 1024,
    maximum: 10 * 1024 * 1024,
    default: 256 * 1024,
    description: 'Largest request body the API accepts, in bytes.',
  }),
  OUTBOX_SWEEP_INTERVAL_MS: {
    ...Millis,
    default: 10_000,
    description: 'How often the worker looks for events left unpublished.',
  },
  OUTBOX_SWEEP_AFTER_MS: {
    ...Millis,
    default: 60_000,
    description: 'Age after which an unpublished event is republished by the sweeper.',
  },
  WORKFLOW_BUNDLE_PATH: Type.String({
    default: '',
    description:
      'Workflow bundle prebuilt by `npm run build:workflows` (`npm start` builds it), run with tracing off; ' +
      'with tracing on the worker runs its traced twin beside it (x.js → x.traced.js, written by the same ' +
      'command). Unset, the worker bundles the workflows when it starts, which takes seconds and keeps ' +
      '~100 MB more memory.',
  }),
  WORKER_METRICS_ADDRESS: Type.String({
    pattern: '^[^:\\s]+:\\d+$',
    default: '127.0.0.1:9464',
    description: 'host:port where the worker serves Prometheus metrics (Temporal SDK and order events).',
  }),
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
  WORKER_WORKFLOW_TASK_POLLERS: Type.Integer({
    minimum: 2,
    maximum: 200,
    default: 10,
    description: 'Concurrent polls for workflow tasks, sticky and not (at most WORKER_MAX_CONCURRENT_WORKFLOW_TASKS).',
  }),
  WORKER_ACTIVITY_TASK_POLLERS: Type.Integer({
    minimum: 1,
    maximum: 200,
    default: 10,
    description: 'Concurrent polls for activity tasks (at most WORKER_MAX_CONCURRENT_ACTIVITIES).',
  }),
  WORKER_NON_STICKY_POLL_RATIO: Type.Number({
    exclusiveMinimum: 0,
    maximum: 1,
    default: 0.2,
    description:
      'Share of those polls on the task queue itself rather than the worker’s sticky queue: the first task ' +
      'of every new workflow (each create) comes from there.',
  }),
  WORKER_MAX_CACHED_WORKFLOWS: Type.Integer({
    minimum: 0,
    maximum: 100_000,
    default: 100,
    description:
      'Running workflows one worker keeps in memory (a few hundred KB each); one evicted is replayed from ' +
      'its history when it next has work. Bounds the worker’s memory, which the SDK would size to the machine. ' +
      '30 saved 20–30 MB, but with 250 creates in flight through a PostgreSQL restart it let some answer 500 ' +
      '(fault suite c), so 100 stays the default (bench/README.md).',
  }),
  COMMANDS_CONSUMER_GROUP: Type.String({
    minLength: 1,
    maxLength: 255,
    default: 'order-service-commands',
    description: 'Kafka consumer group of the worker’s consumer of ordering.commands (its committed offsets).',
  }),
  COMMANDS_ENABLED: Type.Boolean({
    default: true,
    description:
      'Whether the worker consumes ordering.commands. Every consumer group gets every command: switch it off ' +
      'for a worker that must not serve them (one on another database or task queue sharing the Kafka cluster).',
  }),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.String({
    default: '',
    pattern: '^(https?://.+)?$',
    description:
      'OpenTelemetry: base URL of an OTLP/HTTP collector (e.g. `http://127.0.0.1:4318`); traces go to its ' +
      '`/v1/traces` as protobuf. Unset: no tracing at all. The SDK reads the other standard `OTEL_*` variables itself ' +
      '(`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_TRACES_SAMPLER`, …).',
  }),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Type.String({
    default: '',
    pattern: '^(https?://.+)?$',
    description:
      'OpenTelemetry: full URL traces are posted to, instead of `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`.',
  }),
  OTEL_BSP_SCHEDULE_DELAY: Type.Integer({
    minimum: 1,
    maximum: 600_000,
    default: 5_000,
    description: 'OpenTelemetry: milliseconds between two exports of the spans gathered meanwhile.',
  }),
  OTEL_SDK_DISABLED: Type.Boolean({
    default: false,
    description: 'OpenTelemetry: `true` turns tracing off even with an endpoint set.',
  }),
});

export type Config = Static<typeof ConfigSchema>;

/** Whether the processes trace: an OTLP endpoint is set and the SDK is not disabled (src/telemetry.ts). */
export function tracingEnabled(config: Config): boolean {
  return (
    !config.OTEL_SDK_DISABLED &&
    (config.OTEL_EXPORTER_OTLP_ENDPOINT !== '' || config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== '')
  );
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export const SCOPES = ['orders:create', 'orders:read', 'orders:manage'] as const;
export type Scope = (typeof SCOPES)[number];

const ScopeList = Type.Array(Type.Union(SCOPES.map((scope) => Type.Literal(scope))), {
  minItems: 1,
  uniqueItems: true,
});

/** A static key's scopes, and the name its caller goes by in the status history (else a digest of the token). */
export interface ApiKey {
  scopes: Set<Scope>;
  name: string | null;
}

const NamedKey = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[\\x21-\\x7e]+$' }),
    scopes: ScopeList,
  },
  { additionalProperties: false },
);

/**
 * The tokens of API_KEYS: each maps to its scopes (`["orders:read"]`) or to a name and its
 * scopes (`{"name": "ops-1", "scopes": [...]}`). Problems never quote a token.
 */
export function parseApiKeys(raw: string): Map<string, ApiKey> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(['API_KEYS: is not valid JSON']);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(['API_KEYS: must be a JSON object mapping each token to its scopes']);
  }
  const keys = new Map<string, ApiKey>();
  const problems: string[] = [];
  Object.entries(parsed).forEach(([token, scopes], index) => {
    if (!/^[\x21-\x7e]{16,512}$/.test(token)) {
      problems.push(`API_KEYS: token #${index + 1} must be 16 to 512 printable ASCII characters`);
    }
    if (Value.Check(ScopeList, scopes)) {
      keys.set(token, { scopes: new Set(scopes), name: null });
    } else if (Value.Check(NamedKey, scopes)) {
      keys.set(token, { scopes: new Set(scopes.scopes), name: scopes.name });
    } else {
      problems.push(
        `API_KEYS: token #${index + 1} needs a list of distinct scopes among ${SCOPES.join(', ')}, ` +
          'or {"name": "<printable, no spaces>", "scopes": [...]}',
      );
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return keys;
}

/** Asymmetric JWS algorithms: only the identity provider's private key can sign a token that passes. */
const JWT_ALGORITHMS_ALLOWED = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

/** Three base64url parts joined by dots (the last empty when unsigned): a bearer token of this shape is a JWT. */
export const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/;

export interface JwtSettings {
  issuer: string;
  audience: string;
  jwksUrl: URL;
  algorithms: string[];
}

const JWT_REQUIRED = ['JWT_ISSUER', 'JWT_AUDIENCE', 'JWT_JWKS_URL'] as const;

/** The settings of access tokens from an identity provider, or undefined when none is configured. */
export function jwtSettingsOf(config: Config): JwtSettings | undefined {
  const problems: string[] = [];
  const algorithms = config.JWT_ALGORITHMS.split(',').map((algorithm) => algorithm.trim());
  const refused = algorithms.filter((algorithm) => !JWT_ALGORITHMS_ALLOWED.includes(algorithm));
  if (refused.length > 0) {
    problems.push(
      `JWT_ALGORITHMS: ${refused.map((algorithm) => JSON.stringify(algorithm)).join(', ')} not allowed; ` +
        `asymmetric ones only, among ${JWT_ALGORITHMS_ALLOWED.join(', ')}`,
    );
  }
  const missing = JWT_REQUIRED.filter((name) => config[name] === '');
  if (missing.length > 0 && missing.length < JWT_REQUIRED.length) {
    problems.push(`${JWT_REQUIRED.join(', ')}: set all three or none (${missing.join(', ')} missing)`);
  }
  let jwksUrl: URL | undefined;
  if (config.JWT_JWKS_URL !== '') {
    jwksUrl = URL.canParse(config.JWT_JWKS_URL) ? new URL(config.JWT_JWKS_URL) : undefined;
    // Keys fetched in clear text could be swapped on the way; only a local test server may do that.
    const local = jwksUrl?.protocol === 'http:' && ['localhost', '127.0.0.1'].includes(jwksUrl.hostname);
    if (jwksUrl?.protocol !== 'https:' && !local) {
      problems.push('JWT_JWKS_URL: must be an https:// URL (http:// only on localhost or 127.0.0.1)');
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (jwksUrl === undefined) return undefined;
  return { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, jwksUrl, algorithms };
}

const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface PayloadKeys {
  /** Id of the key new payloads are encrypted with. */
  encryptWith: string;
  /** Every key a payload may be decrypted with, by id (encryptWith among them). */
  keys: Map<string, Buffer>;
}

/**
 * Parses `id:base64,id:base64` (each key 32 bytes) and the id to encrypt with (empty: the
 * first). Returns the problems instead of throwing, for the config module to report by name.
 */
function parsePayloadKeys(list: string, encryptWith: string): PayloadKeys | string[] {
  const problems: string[] = [];
  const keys = new Map<string, Buffer>();
  list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .forEach((entry, index) => {
      const separator = entry.indexOf(':');
      const id = entry.slice(0, Math.max(0, separator));
      const key = Buffer.from(entry.slice(separator + 1), 'base64');
      // Problems name the key by its place and id, never its bytes.
      if (!KEY_ID.test(id)) problems.push(`key #${index + 1}: needs an id (letters, digits, . _ -) before a colon`);
      else if (keys.has(id)) problems.push(`key #${index + 1}: id ${id} appears twice`);
      else if (key.length !== KEY_BYTES) problems.push(`key ${id}: must be ${KEY_BYTES} bytes in base64`);
      else keys.set(id, key);
    });
  const chosen = encryptWith === '' ? [...keys.keys()][0] : encryptWith;
  if (problems.length === 0 && keys.size > 0 && (chosen === undefined || !keys.has(chosen))) {
    problems.push(`the key to encrypt with (${encryptWith}) is not in the list`);
  }
  if (problems.length > 0) return problems;
  return { encryptWith: chosen ?? '', keys };
}

/** The keys of TEMPORAL_PAYLOAD_KEYS, or undefined when none is set (payloads go in clear text). */
export function payloadKeysOf(config: Config): PayloadKeys | undefined {
  const parsed = parsePayloadKeys(config.TEMPORAL_PAYLOAD_KEYS, config.TEMPORAL_PAYLOAD_KEY_ID);
  if (Array.isArray(parsed)) throw new ConfigError(parsed.map((problem) => `TEMPORAL_PAYLOAD_KEYS: ${problem}`));
  if (parsed.keys.size === 0) {
    if (config.TEMPORAL_PAYLOAD_KEY_ID !== '') {
      throw new ConfigError(['TEMPORAL_PAYLOAD_KEY_ID: set, but TEMPORAL_PAYLOAD_KEYS lists no key']);
    }
    return undefined;
  }
  return parsed;
}

/** The origins of CODEC_CORS_ORIGINS. */
export function codecCorsOrigins(config: Config): string[] {
  return config.CODEC_CORS_ORIGINS.split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '');
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
  const config = candidate as Config;
  const connectionProblems = connectionSettingProblems(config);
  if (connectionProblems.length > 0) throw new ConfigError(connectionProblems);
  payloadKeysOf(config);
  const apiKeys = parseApiKeys(config.API_KEYS);
  if (jwtSettingsOf(config) !== undefined) {
    // With JWTs accepted, a bearer token of their shape is only ever verified as one: such a key would never match.
    const jwtShaped = [...apiKeys.keys()].findIndex((token) => JWT_SHAPE.test(token));
    if (jwtShaped >= 0) {
      throw new ConfigError([
        `API_KEYS: token #${jwtShaped + 1} is shaped like a JWT (three base64url parts joined by dots), ` +
          'so it would be verified as one while JWT_ISSUER is set; choose another token',
      ]);
    }
  }
  return config;
}

export function kafkaBrokers(config: Config): string[] {
  return config.KAFKA_BROKERS.split(',');
}

/** Settings of the Temporal and Kafka connections that cannot work together. */
function connectionSettingProblems(config: Config): string[] {
  const problems: string[] = [];
  if ((config.TEMPORAL_TLS_CERT_FILE === '') !== (config.TEMPORAL_TLS_KEY_FILE === '')) {
    problems.push('TEMPORAL_TLS_CERT_FILE, TEMPORAL_TLS_KEY_FILE: set both (mTLS) or neither');
  }
  const sasl = config.KAFKA_SASL_MECHANISM !== '';
  if (sasl && (config.KAFKA_SASL_USERNAME === '' || config.KAFKA_SASL_PASSWORD === '')) {
    problems.push('KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD: both needed with KAFKA_SASL_MECHANISM');
  }
  if (!sasl && (config.KAFKA_SASL_USERNAME !== '' || config.KAFKA_SASL_PASSWORD !== '')) {
    problems.push(
      'KAFKA_SASL_MECHANISM: needed with KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD (plain, scram-sha-256, scram-sha-512)',
    );
  }
  if (config.KAFKA_SASL_MECHANISM === 'plain' && !kafkaUsesTls(config)) {
    problems.push(
      'KAFKA_SASL_MECHANISM: plain sends the password as it is, so only over TLS (set KAFKA_SSL or KAFKA_SSL_CA_FILE)',
    );
  }
  return problems;
}

/** A PEM file a setting names, read at start; a problem names the setting and the file. */
function readPem(name: keyof Config, path: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (error) {
    throw new ConfigError([`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  if (!pem.includes('-----BEGIN ')) throw new ConfigError([`${name}: ${path} is not a PEM file`]);
  return pem;
}

/** How to reach the Temporal frontend; the same for the client and the worker's native connection. */
export interface TemporalConnectionSettings {
  address: string;
  tls?: {
    serverRootCACertificate?: Buffer;
    clientCertPair?: { crt: Buffer; key: Buffer };
    serverNameOverride?: string;
  };
  apiKey?: string;
}

const temporalUsesTls = (config: Config) =>
  config.TEMPORAL_TLS ||
  config.TEMPORAL_TLS_CA_FILE !== '' ||
  config.TEMPORAL_TLS_CERT_FILE !== '' ||
  config.TEMPORAL_API_KEY !== '';

/** The Temporal connection's settings, its PEM files read (at start: a problem names the setting). */
export function temporalConnectionOf(config: Config): TemporalConnectionSettings {
  if (!temporalUsesTls(config)) return { address: config.TEMPORAL_ADDRESS };
  return {
    address: config.TEMPORAL_ADDRESS,
    tls: {
      ...(config.TEMPORAL_TLS_CA_FILE !== '' && {
        serverRootCACertificate: readPem('TEMPORAL_TLS_CA_FILE', config.TEMPORAL_TLS_CA_FILE),
      }),
      ...(config.TEMPORAL_TLS_CERT_FILE !== '' && {
        clientCertPair: {
          crt: readPem('TEMPORAL_TLS_CERT_FILE', config.TEMPORAL_TLS_CERT_FILE),
          key: readPem('TEMPORAL_TLS_KEY_FILE', config.TEMPORAL_TLS_KEY_FILE),
        },
      }),
      ...(config.TEMPORAL_TLS_SERVER_NAME !== '' && { serverNameOverride: config.TEMPORAL_TLS_SERVER_NAME }),
    },
    ...(config.TEMPORAL_API_KEY !== '' && { apiKey: config.TEMPORAL_API_KEY }),
  };
}

/** What a start-up failure says about the Temporal connection (never the key itself). */
export function describeTemporalConnection(config: Config): string {
  if (!temporalUsesTls(config))
    return `Temporal at ${config.TEMPORAL_ADDRESS} (plaintext), namespace ${config.TEMPORAL_NAMESPACE}`;
  const parts = [
    config.TEMPORAL_TLS_CA_FILE !== '' ? `CA ${config.TEMPORAL_TLS_CA_FILE}` : 'system CAs',
    config.TEMPORAL_TLS_CERT_FILE !== ''
      ? `client certificate ${config.TEMPORAL_TLS_CERT_FILE}`
      : 'no client certificate',
    ...(config.TEMPORAL_API_KEY !== '' ? ['API key'] : []),
  ];
  return `Temporal at ${config.TEMPORAL_ADDRESS} over TLS (${parts.join(', ')}), namespace ${config.TEMPORAL_NAMESPACE}`;
}

const kafkaUsesTls = (config: Config) => config.KAFKA_SSL || config.KAFKA_SSL_CA_FILE !== '';

/** How to reach the Kafka brokers: TLS and SASL as kafkajs takes them. */
export interface KafkaConnectionSettings {
  brokers: string[];
  ssl?: { ca?: string[] };
  sasl?: { [M in SaslMechanism]: { mechanism: M; username: string; password: string } }[SaslMechanism];
}

type SaslMechanism = Exclude<Config['KAFKA_SASL_MECHANISM'], ''>;

export function kafkaConnectionOf(config: Config): KafkaConnectionSettings {
  const mechanism = config.KAFKA_SASL_MECHANISM;
  return {
    brokers: kafkaBrokers(config),
    ...(kafkaUsesTls(config) && {
      ssl:
        config.KAFKA_SSL_CA_FILE === ''
          ? {}
          : { ca: [readPem('KAFKA_SSL_CA_FILE', config.KAFKA_SSL_CA_FILE).toString()] },
    }),
    ...(mechanism !== '' && {
      sasl: { mechanism, username: config.KAFKA_SASL_USERNAME, password: config.KAFKA_SASL_PASSWORD } as NonNullable<
        KafkaConnectionSettings['sasl']
      >,
    }),
  };
}

export function describeKafkaConnection(config: Config): string {
  const tls = kafkaUsesTls(config)
    ? `TLS (${config.KAFKA_SSL_CA_FILE !== '' ? `CA ${config.KAFKA_SSL_CA_FILE}` : 'system CAs'})`
    : 'plaintext';
  const sasl =
    config.KAFKA_SASL_MECHANISM === ''
      ? 'no SASL'
      : `SASL ${config.KAFKA_SASL_MECHANISM} as ${config.KAFKA_SASL_USERNAME}`;
  return `Kafka at ${config.KAFKA_BROKERS} over ${tls}, ${sasl}`;
}

/** The database's host, port, name and TLS mode, without the password. */
export function describeDatabaseConnection(config: Config): string {
  const url = URL.canParse(config.DATABASE_URL) ? new URL(config.DATABASE_URL) : undefined;
  if (url === undefined) return 'PostgreSQL (DATABASE_URL cannot be parsed)';
  const sslmode = url.searchParams.get('sslmode') ?? 'no sslmode';
  const ca = url.searchParams.get('sslrootcert');
  return `PostgreSQL at ${url.host}${url.pathname} as ${decodeURIComponent(url.username) || 'the default user'} (${sslmode}${ca ? `, CA ${ca}` : ''})`;
}
