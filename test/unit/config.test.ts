import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseApiKeys } from '../../src/config.js';

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
    expect([...(keys.get('checkout-token-0123456789') ?? [])]).toEqual(['orders:create', 'orders:read']);
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
