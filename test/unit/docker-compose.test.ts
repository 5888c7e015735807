// docker-compose.yml cannot run here (no Docker engine); this keeps it from drifting away
// from the config module and the local stack.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { API_NODE_FLAGS, SERVICE_PROCESS_ENV, WORKER_NODE_FLAGS } from '../../scripts/build.js';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config.js';

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | number>;
  ports?: string[];
  healthcheck?: { test: unknown };
  command?: unknown;
}

const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;

describe('docker-compose.yml', () => {
  it('has the stack: PostgreSQL 16, Temporal with its UI, Kafka in KRaft mode, the API and the worker', () => {
    expect(services.postgres?.image).toMatch(/^postgres:16/);
    expect(services.temporal?.image).toMatch(/^temporalio\//);
    expect(services['temporal-ui']?.image).toMatch(/^temporalio\/ui/);
    expect(services.kafka?.image).toMatch(/^apache\/kafka:4\./);
    expect(services.kafka?.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(services.api?.build).toBeDefined();
    expect(services.worker?.build).toBeDefined();
    expect(readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8')).toContain('FROM node:20');
  });

  it('gives every long-running service a healthcheck', () => {
    for (const name of ['postgres', 'temporal', 'temporal-ui', 'kafka', 'api', 'worker']) {
      expect(services[name]?.healthcheck?.test, name).toBeDefined();
    }
  });

  it('publishes the ports the local stack uses', () => {
    expect(services.api?.ports).toContain('3000:3000');
    expect(services.postgres?.ports).toContain('5432:5432');
    expect(services.temporal?.ports).toContain('7233:7233');
    expect(services['temporal-ui']?.ports).toContain('8233:8080');
  });

  it('configures the API and the worker with exactly the variables the config module reads, with valid values', () => {
    for (const name of ['api', 'worker', 'migrate']) {
      const environment = services[name]?.environment ?? {};
      const names = Object.keys(environment);
      expect(
        names.filter((variable) => !(CONFIG_VARIABLES as string[]).includes(variable)),
        name,
      ).toEqual([]);
      expect(names, name).toEqual(expect.arrayContaining(['DATABASE_URL', 'TEMPORAL_ADDRESS', 'KAFKA_BROKERS']));
      const asStrings = Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, String(value)]));
      expect(() => loadConfig(asStrings), name).not.toThrow();
    }
    expect(
      loadConfig(Object.fromEntries(Object.entries(services.api?.environment ?? {}).map(([k, v]) => [k, String(v)])))
        .PORT,
    ).toBe(3000);
  });

  it('runs both processes compiled, with the V8 flags and environment npm start gives them (scripts/build.ts)', () => {
    expect(services.worker?.command).toEqual(['node', ...WORKER_NODE_FLAGS, 'dist/worker.mjs']);
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    expect(dockerfile).toContain(`CMD ${JSON.stringify(['node', ...API_NODE_FLAGS, 'dist/server.mjs'])}`);
    expect(dockerfile).toContain('RUN node --import tsx scripts/build.ts /app/dist');
    // The image sets the process environment npm start gives both (the worker runs the same image).
    for (const [name, value] of Object.entries(SERVICE_PROCESS_ENV))
      expect(dockerfile).toContain(`ENV ${name}=${value}`);
  });

  it('points the app at the services by their compose names', () => {
    const environment = services.api?.environment ?? {};
    expect(String(environment.DATABASE_URL)).toContain('@postgres:5432/');
    expect(environment.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(environment.KAFKA_BROKERS).toBe('kafka:9092');
  });
});
