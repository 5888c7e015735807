// The payload codec on its own: what it writes hides the payload, names its key and cannot be
// altered unnoticed; keys rotate (a new key encrypts, the old one still decrypts); payloads written
// before the codec pass through; bad key lists fail at start, naming the variable, never a key.
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { type ConfigError, loadConfig, payloadKeysOf } from '../../src/config.js';
import {
  createPayloadCodec,
  ENCRYPTED_ENCODING,
  isEncrypted,
  KEY_ID_METADATA,
} from '../../src/temporal/payload-codec.js';

const keyA = randomBytes(32).toString('base64');
const keyB = randomBytes(32).toString('base64');
const codecOf = (keys: string, encryptWith = '') =>
  createPayloadCodec(payloadKeysOf(loadConfig({ TEMPORAL_PAYLOAD_KEYS: keys, TEMPORAL_PAYLOAD_KEY_ID: encryptWith }))!);

const address = { recipientName: 'Grace Hopper', line1: '7 Cobol Street', city: 'Arlington', countryCode: 'US' };
const payload = (): Payload => defaultPayloadConverter.toPayload(address);
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array(0)).toString('utf8');

describe('payload codec', () => {
  it('encrypts: no clear text, the encrypted encoding and the key id in the metadata; decodes to the same payload', async () => {
    const codec = codecOf(`a:${keyA}`);
    const [sealed] = await codec.encode([payload()]);
    expect(text(sealed!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(sealed!.metadata![KEY_ID_METADATA])).toBe('a');
    expect(isEncrypted(sealed!)).toBe(true);
    expect(Buffer.from(sealed!.data!).includes('Grace')).toBe(false);
    expect(Object.keys(sealed!.metadata!).sort()).toEqual([KEY_ID_METADATA, 'encoding'].sort());
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual(address);
    expect(text(opened!.metadata!.encoding)).toBe('json/plain');
  });

  it('uses a fresh IV per payload: the same value twice gives two different ciphertexts', async () => {
    const codec = codecOf(`a:${keyA}`);
    const [one, two] = await codec.encode([payload(), payload()]);
    expect(Buffer.from(one!.data!).equals(Buffer.from(two!.data!))).toBe(false);
  });

  it('rotates keys: after b is added and made current, payloads of a still decode and new ones use b', async () => {
    const before = codecOf(`a:${keyA}`);
    const [old] = await before.encode([payload()]);
    const rotated = codecOf(`a:${keyA},b:${keyB}`, 'b');
    const [fresh] = await rotated.encode([payload()]);
    expect(text(fresh!.metadata![KEY_ID_METADATA])).toBe('b');
    const decoded = await rotated.decode([old!, fresh!]);
    expect(decoded.map((one) => defaultPayloadConverter.fromPayload(one))).toEqual([address, address]);
    // A process that dropped key a too early cannot read a's payloads, and says which key it lacks.
    await expect(codecOf(`b:${keyB}`).decode([old!])).rejects.toThrow(/key "a"/);
  });

  it('passes payloads written without encryption through decode unchanged', async () => {
    const plain = payload();
    const [decoded] = await codecOf(`a:${keyA}`).decode([plain]);
    expect(decoded).toBe(plain);
  });

  it('refuses an altered payload, a payload relabelled with another key id, and one too short', async () => {
    const codec = codecOf(`a:${keyA},b:${keyB}`);
    const [sealed] = await codec.encode([payload()]);
    const altered = Buffer.from(sealed!.data!);
    altered[20] = (altered[20] ?? 0) ^ 1;
    await expect(codec.decode([{ ...sealed!, data: altered }])).rejects.toThrow(/does not decrypt/);
    const relabelled = { ...sealed!, metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: Buffer.from('b') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(/does not decrypt/);
    await expect(codec.decode([{ ...sealed!, data: new Uint8Array(5) }])).rejects.toThrow(/too short/);
  });

  it('keeps payloads without data and with several metadata entries intact', async () => {
    const codec = codecOf(`a:${keyA}`);
    const odd: Payload = { metadata: { encoding: Buffer.from('binary/null'), other: Buffer.from([0, 1, 2]) } };
    const [decoded] = await codec.decode(await codec.encode([odd]));
    expect(text(decoded!.metadata!.encoding)).toBe('binary/null');
    expect([...(decoded!.metadata!.other ?? [])]).toEqual([0, 1, 2]);
    expect(decoded!.data?.length ?? 0).toBe(0);
  });

  it('is off without keys; bad key lists fail at start naming the variable, never a key', () => {
    expect(payloadKeysOf(loadConfig({}))).toBeUndefined();
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problems({ TEMPORAL_PAYLOAD_KEYS: keyA })).toEqual([
      'TEMPORAL_PAYLOAD_KEYS: key #1: needs an id (letters, digits, . _ -) before a colon',
    ]);
    expect(problems({ TEMPORAL_PAYLOAD_KEYS: 'a:c2hvcnQ=' })).toEqual([
      'TEMPORAL_PAYLOAD_KEYS: key a: must be 32 bytes in base64',
    ]);
    expect(problems({ TEMPORAL_PAYLOAD_KEYS: `a:${keyA},a:${keyB}` })).toEqual([
      'TEMPORAL_PAYLOAD_KEYS: key #2: id a appears twice',
    ]);
    expect(problems({ TEMPORAL_PAYLOAD_KEYS: `a:${keyA}`, TEMPORAL_PAYLOAD_KEY_ID: 'b' })).toEqual([
      'TEMPORAL_PAYLOAD_KEYS: the key to encrypt with (b) is not in the list',
    ]);
    expect(problems({ TEMPORAL_PAYLOAD_KEY_ID: 'b' })).toEqual([
      'TEMPORAL_PAYLOAD_KEY_ID: set, but TEMPORAL_PAYLOAD_KEYS lists no key',
    ]);
    expect(JSON.stringify(problems({ TEMPORAL_PAYLOAD_KEYS: `${keyA}` }))).not.toContain(keyA);
  });
});
