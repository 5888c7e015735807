// The codec server's routes on their own, with a real codec: what Temporal's protocol sends
// decodes and encodes; hostile or broken input is a 4xx, never a 5xx; the token and scope hold;
// CORS only for the configured origins.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { loadConfig, parseApiKeys, payloadKeysOf } from '../../src/config.js';
import type { OrderService } from '../../src/orders/order-service.js';
import { createPayloadCodec } from '../../src/temporal/payload-codec.js';

const MANAGER = 'codec-manager-token-0001';
const READER = 'codec-reader-token-00001';
const UI = 'http://127.0.0.1:8233';
const codec = createPayloadCodec(
  payloadKeysOf(loadConfig({ TEMPORAL_PAYLOAD_KEYS: `a:${randomBytes(32).toString('base64')}` }))!,
);

async function app() {
  return buildApp({
    orders: {} as OrderService,
    logger: pino({ level: 'silent' }),
    apiKeys: parseApiKeys(JSON.stringify({ [MANAGER]: ['orders:manage'], [READER]: ['orders:read'] })),
    bodyLimit: 1024 * 1024,
    rateLimitPerMinute: 0,
    codec: { codec, corsOrigins: [UI] },
  });
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
const plain = { metadata: { encoding: b64('json/plain') }, data: b64('{"city":"Wrexhampton"}') };

async function post(url: string, payload: unknown, token = MANAGER, headers: Record<string, string> = {}) {
  const server = await app();
  try {
    return await server.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
  } finally {
    await server.close();
  }
}

describe('codec server routes', () => {
  it('encodes and decodes in Temporal’s JSON shape; the query the UI adds is accepted', async () => {
    const encoded = await post('/codec/encode', { payloads: [plain] });
    expect(encoded.statusCode).toBe(200);
    const sealed = encoded.json().payloads[0];
    expect(Buffer.from(sealed.metadata.encoding, 'base64').toString()).toBe('binary/encrypted');
    expect(encoded.body).not.toContain(plain.data);
    const decoded = await post('/codec/decode?preserveStorageRefs=true', { payloads: [sealed, plain] });
    expect(decoded.statusCode).toBe(200);
    expect(decoded.json()).toEqual({ payloads: [plain, plain] });
  });

  it.each([
    ['not JSON', '{"payloads": ['],
    ['a __proto__ metadata name', '{"payloads": [{"metadata": {"__proto__": "AA=="}}]}'],
    ['no payloads', {}],
    ['payloads not a list', { payloads: {} }],
    ['data not base64', { payloads: [{ data: 'ü€' }] }],
    ['metadata value not base64', { payloads: [{ metadata: { encoding: '***' } }] }],
    ['unknown field', { payloads: [{ data: '', extra: 1 }] }],
    [
      'encrypted, unknown key',
      {
        payloads: [
          {
            metadata: { encoding: b64('binary/encrypted'), 'encryption-key-id': b64('zz') },
            data: b64('x'.repeat(40)),
          },
        ],
      },
    ],
    [
      'encrypted, too short',
      { payloads: [{ metadata: { encoding: b64('binary/encrypted'), 'encryption-key-id': b64('a') }, data: '' }] },
    ],
    [
      'encrypted, garbage',
      {
        payloads: [
          {
            metadata: { encoding: b64('binary/encrypted'), 'encryption-key-id': b64('a') },
            data: randomBytes(64).toString('base64'),
          },
        ],
      },
    ],
    [
      'encrypted, no key id',
      { payloads: [{ metadata: { encoding: b64('binary/encrypted') }, data: randomBytes(64).toString('base64') }] },
    ],
  ])('refuses %s with a 400 and our error body', async (_name, body) => {
    const answer = await post('/codec/decode', body);
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toMatchObject({ code: expect.any(String), message: expect.any(String) });
  });

  it('passes odd but valid payloads through: no metadata, empty data, a metadata name like a method', async () => {
    const odd = { payloads: [{}, { data: '' }, { metadata: { constructor: 'AA==', toString: '' } }] };
    const answer = await post('/codec/decode', odd);
    expect(answer.statusCode).toBe(200);
    expect(answer.json().payloads).toHaveLength(3);
  });

  it('needs a token with orders:manage', async () => {
    expect((await post('/codec/decode', { payloads: [plain] }, 'unknown-token-000000000')).statusCode).toBe(401);
    expect((await post('/codec/decode', { payloads: [plain] }, READER)).statusCode).toBe(403);
    expect((await post('/codec/encode', { payloads: [plain] }, READER)).statusCode).toBe(403);
  });

  it('gives the configured UI origin CORS headers, on refusals too, and no other origin', async () => {
    const refused = await post('/codec/decode', { payloads: [plain] }, READER, { origin: UI });
    expect(refused.headers['access-control-allow-origin']).toBe(UI);
    const stranger = await post('/codec/decode', { payloads: [plain] }, MANAGER, { origin: 'https://evil.example' });
    expect(stranger.statusCode).toBe(200);
    expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
    const server = await app();
    const preflight = await server.inject({
      method: 'OPTIONS',
      url: '/codec/encode',
      headers: { origin: UI, 'access-control-request-method': 'POST' },
    });
    await server.close();
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-headers']).toContain('x-namespace');
  });
});
