// asyncapi.yaml is generated from the TypeBox schemas: it is current, valid AsyncAPI 3, and its
// payloads are those schemas, so the document and the code cannot drift apart.
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ASYNCAPI_PATH, PAYLOAD_SCHEMAS, renderAsyncApi } from '../../scripts/generate-asyncapi.js';
import { COMMAND_TYPES } from '../../src/commands/command-handler.js';
import * as contracts from '../../src/contracts/schemas.js';

const text = readFileSync(ASYNCAPI_PATH, 'utf8');
const document = parse(text) as {
  channels: Record<string, { address: string; messages: Record<string, { $ref: string }> }>;
  components: {
    messages: Record<string, { payload: { $ref?: string }; headers: { properties: Record<string, unknown> } }>;
    schemas: Record<string, unknown>;
  };
};

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

  it('carries the commands and the events on their channels', () => {
    const messagesOf = (address: string) =>
      Object.keys(Object.values(document.channels).find((channel) => channel.address === address)?.messages ?? {});
    expect(messagesOf('ordering.orders')).toEqual(['OrderCreated', 'OrderCompleted', 'OrderCancelled']);
    expect(messagesOf('ordering.commands')).toEqual(['CreateOrder', 'CompleteOrder', 'CancelOrder']);
    // The commands the consumer serves, by their ce_type, are the messages of the channel.
    expect(messagesOf('ordering.commands').sort()).toEqual([...COMMAND_TYPES].sort());
    expect(messagesOf('ordering.commands.dlq')).toEqual(['DeadLetteredCommand']);
    for (const name of ['OrderCreated', 'OrderCompleted', 'OrderCancelled', 'CreateOrder', 'CancelOrder']) {
      expect(Object.keys(document.components.messages[name]?.headers.properties ?? {}), name).toContain('ce_type');
    }
  });

  it('has as payload of each message the TypeBox schema of the same name', () => {
    const typed = Object.entries(document.components.messages).filter(([name]) => name !== 'DeadLetteredCommand');
    expect(typed.map(([name]) => name).sort()).toEqual(Object.keys(PAYLOAD_SCHEMAS).sort());
    for (const [name, message] of typed) {
      const typebox = (contracts as Record<string, unknown>)[name];
      expect(typebox, `src/contracts/schemas.ts exports ${name}`).toBeDefined();
      expect(message.payload.$ref, name).toBe(`#/components/schemas/${name}`);
      // JSON drops TypeBox's symbol-keyed markers: what remains is the JSON Schema the code uses.
      expect(resolve(message.payload.$ref!), name).toEqual(JSON.parse(JSON.stringify(typebox)));
    }
  });
});
