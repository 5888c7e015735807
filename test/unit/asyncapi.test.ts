// asyncapi.yaml is generated from the TypeBox schemas: it is current, valid AsyncAPI 3, and its
// payloads are those schemas, so the document and the code cannot drift apart. It has every event
// and every command the service serves, and marks what is ours beyond the Acme event catalog.
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ASYNCAPI_PATH, ASYNCAPI_VERSION, PAYLOAD_SCHEMAS, renderAsyncApi } from '../../scripts/generate-asyncapi.js';
import { COMMAND_TYPES } from '../../src/commands/command-handler.js';
import * as contracts from '../../src/contracts/schemas.js';
import { LIFECYCLE, PUBLIC_COMMAND_NAMES } from '../../src/domain/lifecycle.js';
import { HEAD_EVENT_TYPES, headAsyncApi } from '../support/catalog.js';

const text = readFileSync(ASYNCAPI_PATH, 'utf8');
type Message = {
  payload: { $ref?: string };
  headers: { properties: Record<string, { const?: string }> };
  description?: string;
  'x-beyond-catalog'?: boolean;
  'x-beyond-catalog-fields'?: string[];
};
const document = parse(text) as {
  info: { version: string; description: string };
  channels: Record<string, { address: string; messages: Record<string, { $ref: string }> }>;
  operations: Record<string, { action: string; channel: { $ref: string }; messages: { $ref: string }[] }>;
  components: { messages: Record<string, Message>; schemas: Record<string, unknown> };
};

/** The names of the messages of the channel at `address`. */
const messagesOf = (address: string) =>
  Object.keys(Object.values(document.channels).find((channel) => channel.address === address)?.messages ?? {});

/** Every event, the v1.0.0 ones, the head catalog's and ours (CustomerDataErased). */
const EVENTS = Object.keys(contracts.PUBLISHED_EVENT_SCHEMAS);
/** Every command of ordering.commands: CreateOrder, then each public command of the table, by its ce_type. */
const COMMANDS = ['CreateOrder', ...PUBLIC_COMMAND_NAMES.map((name) => LIFECYCLE[name].commandType as string)];
/** The messages the catalog's head AsyncAPI has: the others are ours. */
const CATALOG_MESSAGES = Object.keys(headAsyncApi.components.messages);

/** A `#/a/b` reference resolved in the document. */
const resolve = (pointer: string): any =>
  pointer
    .replace(/^#\//, '')
    .split('/')
    .reduce((node: any, key) => node?.[key], document);

describe('asyncapi.yaml', () => {
  it('is what scripts/generate-asyncapi.ts produces now (run `npm run generate:asyncapi`)', () => {
    expect(text).toBe(renderAsyncApi());
  });

  it('is a valid AsyncAPI 3 document', async () => {
    const { document: parsed, diagnostics } = await new Parser().parse(text);
    // Spectral severities: 0 error, 1 warning, 2 information, 3 hint.
    const problems = diagnostics
      .filter((diagnostic) => diagnostic.severity <= 1)
      .map((diagnostic) => `${diagnostic.code} at ${diagnostic.path.join('/')}: ${diagnostic.message}`);
    expect(problems).toEqual([]);
    expect(parsed?.version()).toMatch(/^3\./);
    expect(
      parsed
        ?.channels()
        .all()
        .map((channel) => channel.address())
        .sort(),
    ).toEqual(['ordering.commands', 'ordering.commands.dlq', 'ordering.orders']);
  });

  it('carries all twelve events and every command the service serves on their channels', () => {
    expect(EVENTS).toHaveLength(12);
    expect(messagesOf('ordering.orders')).toEqual(EVENTS);
    expect(messagesOf('ordering.orders')).toEqual(
      expect.arrayContaining([...contracts.V1_EVENT_TYPES, ...HEAD_EVENT_TYPES]),
    );
    expect(messagesOf('ordering.commands')).toEqual(COMMANDS);
    // The commands the consumer serves, by their ce_type, are the messages of the channel.
    expect([...messagesOf('ordering.commands')].sort()).toEqual([...COMMAND_TYPES].sort());
    // The workflow's own archival is no command of anyone's.
    expect(messagesOf('ordering.commands')).not.toContain('archive');
    expect(messagesOf('ordering.commands.dlq')).toEqual(['DeadLetteredCommand']);
    for (const name of [...EVENTS, ...COMMANDS]) {
      expect(document.components.messages[name]?.headers.properties.ce_type?.const, name).toBe(name);
    }
  });

  it('has an operation of each message: the service receives the commands and sends the events', () => {
    const operationOf = (message: string) =>
      Object.values(document.operations).filter((operation) =>
        operation.messages.some((ref) => ref.$ref.endsWith(`/messages/${message}`)),
      );
    for (const name of COMMANDS) {
      expect(
        operationOf(name).map((operation) => [operation.action, operation.channel.$ref]),
        name,
      ).toEqual([['receive', '#/channels/orderCommands']]);
    }
    for (const name of EVENTS) {
      expect(
        operationOf(name).map((operation) => [operation.action, operation.channel.$ref]),
        name,
      ).toEqual([['send', '#/channels/orderEvents']]);
    }
  });

  it('marks every message ours beyond the catalog that the catalog does not have', () => {
    // The catalog's head has CreateOrder and CancelOrder as its only commands, and eleven of our twelve events.
    expect(COMMANDS.filter((name) => CATALOG_MESSAGES.includes(name))).toEqual(['CreateOrder', 'CancelOrder']);
    expect(EVENTS.filter((name) => !CATALOG_MESSAGES.includes(name))).toEqual(['CustomerDataErased']);
    for (const [name, message] of Object.entries(document.components.messages)) {
      const ours = !CATALOG_MESSAGES.includes(name);
      expect(message['x-beyond-catalog'], name).toBe(ours);
      expect(message.description, name).toMatch(ours ? /^Ours, beyond the Acme event catalog/ : /^As in the Acme/);
    }
    // CreateOrder is the catalog's, its optional delivery fields ours.
    expect(document.components.messages.CreateOrder?.['x-beyond-catalog-fields']).toEqual([
      'deliveryAddress',
      'deliveryMethod',
    ]);
    const withExtraFields = Object.entries(document.components.messages)
      .filter(([, message]) => message['x-beyond-catalog-fields'] !== undefined)
      .map(([name]) => name);
    expect(withExtraFields).toEqual(['CreateOrder']);
  });

  it('says the version is an additive change of the catalog v1.0.0', () => {
    expect(document.info.version).toBe(ASYNCAPI_VERSION);
    // A minor version: additive only, the catalog's major version kept.
    expect(ASYNCAPI_VERSION).toMatch(/^1\.[1-9][0-9]*\.0$/);
    expect(document.info.description).toContain(`${ASYNCAPI_VERSION} is additive`);
  });

  it('has as payload of each message the TypeBox schema the service validates or publishes it with', () => {
    // The schema of each message, as the code uses it: the event's, CreateOrder, and the table's command messages.
    const schemaOf = (name: string): unknown =>
      name === 'CreateOrder'
        ? contracts.CreateOrder
        : ((contracts.PUBLISHED_EVENT_SCHEMAS as Record<string, unknown>)[name] ?? contracts.COMMAND_MESSAGES[name]);
    const typed = Object.entries(document.components.messages).filter(([name]) => name !== 'DeadLetteredCommand');
    expect(typed.map(([name]) => name).sort()).toEqual([...EVENTS, ...COMMANDS].sort());
    expect(typed.map(([name]) => name).sort()).toEqual(Object.keys(PAYLOAD_SCHEMAS).sort());
    // The exported schemas of the commands are those of the table.
    expect(schemaOf('CancelOrder')).toEqual(contracts.CancelOrder);
    expect(schemaOf('CompleteOrder')).toEqual(contracts.CompleteOrder);
    for (const [name, message] of typed) {
      const typebox = schemaOf(name);
      expect(typebox, `src/contracts/schemas.ts has the schema of ${name}`).toBeDefined();
      expect(message.payload.$ref, name).toBe(`#/components/schemas/${name}`);
      // JSON drops TypeBox's symbol-keyed markers: what remains is the JSON Schema the code uses.
      expect(resolve(message.payload.$ref!), name).toEqual(JSON.parse(JSON.stringify(typebox)));
    }
  });
});
