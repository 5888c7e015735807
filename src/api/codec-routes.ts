// The codec server: Temporal's Web UI and CLI send it the payloads of a history to decrypt
// (`/codec/decode`) or the ones they are about to send to encrypt (`/codec/encode`), as Temporal's
// codec server protocol has it: POST `{"payloads": [{"metadata": {name: base64}, "data": base64}]}`,
// answered in the same shape. Behind the API's authentication with the scope orders:manage: who
// may read a history through it may read the customer data in it. The Web UI calls it from the
// browser, so the origins of CODEC_CORS_ORIGINS get the CORS headers and preflight answers they need.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import { type Payload, type PayloadCodec, ValueError } from '@temporalio/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorBody } from '../contracts/schemas.js';

/** Temporal's largest payload is 2 MB by default; base64 adds a third. */
const CODEC_BODY_LIMIT_BYTES = 4 * 1024 * 1024;
const BASE64 = '^[A-Za-z0-9+/_-]*={0,2}$';

const Base64 = Type.String({ pattern: BASE64, maxLength: CODEC_BODY_LIMIT_BYTES });
const JsonPayload = Type.Object(
  {
    metadata: Type.Optional(
      Type.Record(Type.String({ maxLength: 256 }), Base64, {
        maxProperties: 64,
        description: 'Metadata entries, each value base64',
      }),
    ),
    data: Type.Optional(Base64),
  },
  { additionalProperties: false, description: 'A temporal.api.common.v1.Payload in its JSON form' },
);
const Payloads = Type.Object(
  { payloads: Type.Array(JsonPayload, { maxItems: 10_000 }) },
  { additionalProperties: false, examples: [{ payloads: [] }] },
);
type JsonPayload = Static<typeof JsonPayload>;

const toPayload = (json: JsonPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(json.metadata ?? {}).map(([name, value]) => [name, Buffer.from(value, 'base64')]),
  ),
  data: Buffer.from(json.data ?? '', 'base64'),
});

const toJson = (payload: Payload): JsonPayload => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([name, value]) => [name, Buffer.from(value ?? []).toString('base64')]),
  ),
  data: Buffer.from(payload.data ?? []).toString('base64'),
});

export interface CodecRoutesOptions {
  /** The codec of the workflows' payloads (TEMPORAL_PAYLOAD_KEYS); without keys, payloads pass as they are. */
  codec: PayloadCodec | undefined;
  /** Browser origins (the Temporal Web UI's) allowed to call these routes. */
  corsOrigins: string[];
}

const errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  413: ErrorBody,
  415: ErrorBody,
  429: ErrorBody,
  500: ErrorBody,
};

export const codecRoutes: FastifyPluginAsyncTypebox<CodecRoutesOptions> = async (app, { codec, corsOrigins }) => {
  const allowed = new Set(corsOrigins);
  // Every answer of these routes, a refusal by the authentication included: a browser shows the
  // UI a 401 only when the answer carries the CORS headers.
  app.addHook('onSend', async (request, reply) => {
    const origin = request.headers.origin;
    reply.header('vary', 'origin');
    if (typeof origin !== 'string' || !allowed.has(origin)) return;
    reply.header('access-control-allow-origin', origin);
    // The UI's "include cross-origin credentials" setting sends cookies; its access token goes as a header.
    reply.header('access-control-allow-credentials', 'true');
  });

  const preflight = async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin;
    if (typeof origin === 'string' && allowed.has(origin)) {
      reply
        .header('access-control-allow-methods', 'POST, OPTIONS')
        .header('access-control-allow-headers', 'authorization, content-type, x-namespace')
        .header('access-control-max-age', '600');
    }
    return reply.status(204).send();
  };

  const transform = (direction: 'encode' | 'decode') => async (request: FastifyRequest, reply: FastifyReply) => {
    const { payloads } = request.body as Static<typeof Payloads>;
    if (codec === undefined) return { payloads };
    try {
      const done = await codec[direction](payloads.map(toPayload));
      return { payloads: done.map(toJson) };
    } catch (error) {
      if (!(error instanceof ValueError)) throw error;
      return reply.status(400).send({ code: 'PAYLOAD_NOT_DECRYPTABLE', message: error.message, details: [] });
    }
  };

  for (const direction of ['decode', 'encode'] as const) {
    const url = `/codec/${direction}`;
    app.post(
      url,
      {
        bodyLimit: CODEC_BODY_LIMIT_BYTES,
        schema: {
          summary:
            direction === 'decode'
              ? 'Decrypt workflow payloads for the Temporal Web UI and CLI (codec server)'
              : 'Encrypt payloads as the service sends them to Temporal (codec server)',
          description:
            'Temporal’s codec server protocol. The X-Namespace header the UI sends is not needed. ' +
            (direction === 'decode'
              ? 'Payloads not encrypted by this service come back as they are; one encrypted with a key the ' +
                'service does not hold, or altered, is 400 PAYLOAD_NOT_DECRYPTABLE.'
              : 'Encrypted with the key of TEMPORAL_PAYLOAD_KEY_ID; without TEMPORAL_PAYLOAD_KEYS, returned as they are.'),
          body: Payloads,
          response: { 200: Payloads, ...errors },
          security: [{ bearer: [] }],
        },
        config: { scope: 'orders:manage' },
      },
      transform(direction),
    );
    app.options(url, { schema: { hide: true } }, preflight);
  }
};
