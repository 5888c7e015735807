import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  describeDatabaseConnection,
  describeKafkaConnection,
  describeTemporalConnection,
  kafkaConnectionOf,
  loadConfig,
  parseApiKeys,
  temporalConnectionOf,
} from '../../src/config.js';

describe('loadConfig', () => {
  it('defaults to the local stack', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/orders',
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: 'orders',
      KAFKA_BROKERS: '127.0.0.1:9092',
      PORT: 3000,
    });
  });

  it('converts numbers and keeps what is set', () => {
    expect(loadConfig({ PORT: '8080', KAFKA_BROKERS: 'a:1,b:2' })).toMatchObject({
      PORT: 8080,
      KAFKA_BROKERS: 'a:1,b:2',
    });
  });

  it('fails fast naming each bad variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x' });
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain('PORT');
      expect(message).toContain('DATABASE_URL');
    }
  });
});

describe('API_KEYS', () => {
  it('parses tokens and their scopes', () => {
    const keys = parseApiKeys(JSON.stringify({ 'checkout-token-0123456789': ['orders:create', 'orders:read'] }));
    expect([...(keys.get('checkout-token-0123456789')?.scopes ?? [])]).toEqual(['orders:create', 'orders:read']);
    expect(keys.get('checkout-token-0123456789')?.name).toBeNull();
  });

  it('takes a named key: its name is who asked', () => {
    const keys = parseApiKeys(
      JSON.stringify({ 'ops-token-0123456789abc': { name: 'ops-1', scopes: ['orders:manage'] } }),
    );
    expect(keys.get('ops-token-0123456789abc')).toEqual({ name: 'ops-1', scopes: new Set(['orders:manage']) });
    expect(() => parseApiKeys(JSON.stringify({ 'ops-token-0123456789abc': { name: 'a b', scopes: [] } }))).toThrow(
      /token #1 needs/,
    );
  });

  it('refuses short tokens and unknown scopes without quoting the token', () => {
    const secret = 'short-secret';
    let message = '';
    try {
      loadConfig({ API_KEYS: JSON.stringify({ [secret]: ['orders:delete'] }) });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('API_KEYS: token #1 must be 16 to 512 printable ASCII characters');
    expect(message).toContain('API_KEYS: token #1 needs a list of distinct scopes');
    expect(message).not.toContain(secret);
    expect(() => loadConfig({ API_KEYS: 'not json' })).toThrow('API_KEYS: is not valid JSON');
  });
});

describe('JWT settings', () => {
  const provider = {
    JWT_ISSUER: 'https://login.acme.test/',
    JWT_AUDIENCE: 'https://orders.acme.test',
    JWT_JWKS_URL: 'https://login.acme.test/.well-known/jwks.json',
  };

  it('are off by default, and accept asymmetric algorithms only', () => {
    expect(loadConfig({})).toMatchObject({
      JWT_ISSUER: '',
      JWT_AUDIENCE: '',
      JWT_JWKS_URL: '',
      JWT_ALGORITHMS: 'RS256,ES256,PS256,EdDSA',
    });
    expect(loadConfig({ ...provider, JWT_ALGORITHMS: 'ES384,Ed25519' }).JWT_ALGORITHMS).toBe('ES384,Ed25519');
    expect(() => loadConfig({ ...provider, JWT_ALGORITHMS: 'RS256,HS256,none' })).toThrow(
      'JWT_ALGORITHMS: "HS256", "none" not allowed',
    );
  });

  it('need the issuer, the audience and the key set URL together', () => {
    expect(() => loadConfig({ JWT_ISSUER: provider.JWT_ISSUER })).toThrow(
      'JWT_ISSUER, JWT_AUDIENCE, JWT_JWKS_URL: set all three or none (JWT_AUDIENCE, JWT_JWKS_URL missing)',
    );
    expect(() => loadConfig({ ...provider, JWT_AUDIENCE: '' })).toThrow('(JWT_AUDIENCE missing)');
  });

  it('fetch the key set over https, or http on this machine only', () => {
    for (const url of ['http://127.0.0.1:8080/jwks.json', 'http://localhost/jwks.json']) {
      expect(() => loadConfig({ ...provider, JWT_JWKS_URL: url }), url).not.toThrow();
    }
    for (const url of ['http://login.acme.test/jwks.json', 'http://127.0.0.1.evil.test/', 'ftp://x/', 'not a url']) {
      expect(() => loadConfig({ ...provider, JWT_JWKS_URL: url }), url).toThrow(
        'JWT_JWKS_URL: must be an https:// URL (http:// only on localhost or 127.0.0.1)',
      );
    }
  });

  it('refuse a static key shaped like a JWT while access tokens are accepted, without quoting it', () => {
    const jwtShaped = 'abcdefgh.ijklmnop.qrstuvwx';
    const API_KEYS = JSON.stringify({ 'checkout-token-0123456789': ['orders:create'], [jwtShaped]: ['orders:read'] });
    expect(() => loadConfig({ API_KEYS })).not.toThrow();
    let message = '';
    try {
      loadConfig({ ...provider, API_KEYS });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('API_KEYS: token #2 is shaped like a JWT');
    expect(message).not.toContain(jwtShaped);
  });
});

describe('production connection settings', () => {
  const problemsOf = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  it('plaintext everywhere by default', () => {
    const config = loadConfig({});
    expect(temporalConnectionOf(config)).toEqual({ address: '127.0.0.1:7233' });
    expect(kafkaConnectionOf(config)).toEqual({ brokers: ['127.0.0.1:9092'] });
  });

  it('an API key alone means TLS with the system CAs (Temporal Cloud), and never shows the key', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'acme.a1b2c.tmprl.cloud:7233', TEMPORAL_API_KEY: 'secret-key' });
    expect(temporalConnectionOf(config)).toEqual({
      address: 'acme.a1b2c.tmprl.cloud:7233',
      tls: {},
      apiKey: 'secret-key',
    });
    expect(describeTemporalConnection(config)).toBe(
      'Temporal at acme.a1b2c.tmprl.cloud:7233 over TLS (system CAs, no client certificate, API key), namespace default',
    );
    expect(describeTemporalConnection(config)).not.toContain('secret-key');
  });

  it('SASL settings become kafkajs options; the password is never described', () => {
    const config = loadConfig({
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'svc',
      KAFKA_SASL_PASSWORD: 'p4ss',
    });
    expect(kafkaConnectionOf(config)).toEqual({
      brokers: ['127.0.0.1:9092'],
      ssl: {},
      sasl: { mechanism: 'scram-sha-512', username: 'svc', password: 'p4ss' },
    });
    expect(describeKafkaConnection(config)).toBe(
      'Kafka at 127.0.0.1:9092 over TLS (system CAs), SASL scram-sha-512 as svc',
    );
  });

  it('refuses settings that cannot work together, naming them', () => {
    expect(problemsOf({ TEMPORAL_TLS_CERT_FILE: '/x.pem' })).toEqual([
      'TEMPORAL_TLS_CERT_FILE, TEMPORAL_TLS_KEY_FILE: set both (mTLS) or neither',
    ]);
    expect(problemsOf({ KAFKA_SASL_MECHANISM: 'scram-sha-256' })[0]).toMatch(
      /KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD/,
    );
    expect(problemsOf({ KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'p' })[0]).toMatch(/^KAFKA_SASL_MECHANISM/);
    expect(
      problemsOf({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'p' })[0],
    ).toMatch(/plain .* only over TLS/);
    expect(problemsOf({ KAFKA_SASL_MECHANISM: 'gssapi' })[0]).toMatch(/^KAFKA_SASL_MECHANISM/);
  });

  it('a file that cannot be read or is not PEM is named with its setting', () => {
    expect(() => temporalConnectionOf(loadConfig({ TEMPORAL_TLS_CA_FILE: '/nonexistent/ca.pem' }))).toThrow(
      'TEMPORAL_TLS_CA_FILE: cannot read /nonexistent/ca.pem (ENOENT)',
    );
    expect(() => kafkaConnectionOf(loadConfig({ KAFKA_SSL_CA_FILE: '/etc/hostname' }))).toThrow(
      'KAFKA_SSL_CA_FILE: /etc/hostname is not a PEM file',
    );
  });

  it('describes the database connection without its password', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://svc:hunter2@db.example.com:5432/orders?sslmode=verify-full&sslrootcert=/ca.pem',
    });
    expect(describeDatabaseConnection(config)).toBe(
      'PostgreSQL at db.example.com:5432/orders as svc (verify-full, CA /ca.pem)',
    );
  });
});
