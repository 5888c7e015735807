// Replay with the payload codec, as the worker runs when TEMPORAL_PAYLOAD_KEYS is set: a recorded
// history whose payloads are encrypted (k1 before a key rotation, k2 after it; recorded by
// `RECORD_HISTORIES=1 npx vitest run test/integration/customer-data.test.ts`) and every history
// recorded without encryption (orders started before the codec) replay; without the key of its
// payloads, a history does not.
import { readdirSync, readFileSync } from 'node:fs';
import { DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleOrderWorkflows } from '../../scripts/build-workflows.js';
import { loadConfig } from '../../src/config.js';
import { dataConverterOf } from '../../src/temporal/client.js';
import { allTextOf, PAYLOAD_KEY_1, PAYLOAD_KEY_2, privateStringsIn } from '../support/customer-data.js';

const encrypted = new URL('../fixtures/encrypted-histories/v5-order-rotated-keys.json', import.meta.url);
const clearDir = new URL('./histories/', import.meta.url);
const clearFiles = readdirSync(clearDir).filter((file) => file.startsWith('v5-') && file.endsWith('.json'));
const read = (url: URL) => JSON.parse(readFileSync(url, 'utf8'));
const converterWith = (keys: string, keyId = '') =>
  dataConverterOf(loadConfig({ TEMPORAL_PAYLOAD_KEYS: keys, TEMPORAL_PAYLOAD_KEY_ID: keyId }));

let workflowBundle: WorkflowBundle;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  workflowBundle = await bundleOrderWorkflows({ traced: false });
}, 120_000);

describe('replay with the payload codec', () => {
  it('the encrypted fixture holds no customer data in clear text', () => {
    const text = allTextOf(read(encrypted)).map((value) => {
      // JSON histories carry bytes as base64: look inside them too.
      const decoded = /^[A-Za-z0-9+/]+=*$/.test(value) ? Buffer.from(value, 'base64').toString('utf8') : '';
      return `${value}\n${decoded}`;
    });
    expect(text.length).toBeGreaterThan(100);
    expect(privateStringsIn(text.join('\n'))).toEqual([]);
  });

  it('replays the encrypted history with both keys, whichever encrypts now', async () => {
    for (const [keys, keyId] of [
      [`${PAYLOAD_KEY_1},${PAYLOAD_KEY_2}`, 'k2'],
      [`${PAYLOAD_KEY_2},${PAYLOAD_KEY_1}`, 'k2'],
      [`${PAYLOAD_KEY_1},${PAYLOAD_KEY_2}`, 'k1'],
    ] as const) {
      await expect(
        Worker.runReplayHistory({ workflowBundle, dataConverter: converterWith(keys, keyId) }, read(encrypted)),
      ).resolves.toBeUndefined();
    }
  });

  it('does not replay the encrypted history without k1, which encrypted its first payloads', async () => {
    await expect(
      Worker.runReplayHistory({ workflowBundle, dataConverter: converterWith(PAYLOAD_KEY_2) }, read(encrypted)),
    ).rejects.toThrow();
  });

  it.each(clearFiles)('replays %s, recorded without encryption, with the codec', async (file) => {
    await expect(
      Worker.runReplayHistory(
        { workflowBundle, dataConverter: converterWith(PAYLOAD_KEY_1) },
        read(new URL(file, clearDir)),
        `codec-${file}`,
      ),
    ).resolves.toBeUndefined();
  });
});
