// Encrypts every payload before it leaves the process for Temporal (workflow and activity
// arguments and results, Update arguments, memos, user metadata), so a workflow history on the
// server, in Temporal Cloud or in an export holds no clear customer data. AES-256-GCM with a
// random 96-bit IV per payload; the whole Payload (its metadata and data) is encrypted, and the
// id of the key travels beside it so keys can rotate: the codec encrypts with one key and
// decrypts with any key it holds. Payloads without the encrypted encoding (written before the
// codec, or by a tool without it) pass through decode as they are, so running orders keep working.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { type Payload, type PayloadCodec, ValueError } from '@temporalio/common';
import protobuf from 'protobufjs';
import { type Config, type PayloadKeys, payloadKeysOf } from '../config.js';
import type { LogSink } from '../logger.js';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata key naming the key a payload was encrypted with. */
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Payload as protobuf bytes (temporal.api.common.v1.Payload: map<string, bytes> metadata = 1; bytes data = 2). */
function serializePayload(payload: Payload): Uint8Array {
  const writer = protobuf.Writer.create();
  for (const [key, value] of Object.entries(payload.metadata ?? {})) {
    if (value === null || value === undefined) continue;
    writer.uint32(10).fork().uint32(10).string(key).uint32(18).bytes(value).ldelim();
  }
  if (payload.data !== null && payload.data !== undefined && payload.data.length > 0) {
    writer.uint32(18).bytes(payload.data);
  }
  return writer.finish();
}

function deserializePayload(bytes: Uint8Array): Payload {
  const reader = protobuf.Reader.create(bytes);
  const metadata: Record<string, Uint8Array> = {};
  let data: Uint8Array = new Uint8Array(0);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === 10) {
      const end = reader.uint32() + reader.pos;
      let key = '';
      let value: Uint8Array = new Uint8Array(0);
      while (reader.pos < end) {
        const entryTag = reader.uint32();
        if (entryTag === 10) key = reader.string();
        else if (entryTag === 18) value = reader.bytes();
        else reader.skipType(entryTag & 7);
      }
      metadata[key] = value;
    } else if (tag === 18) {
      data = reader.bytes();
    } else {
      reader.skipType(tag & 7);
    }
  }
  return { metadata, data };
}

const text = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : undefined);

/** Whether a payload is one this codec encrypted. */
export function isEncrypted(payload: Payload): boolean {
  return text(payload.metadata?.encoding) === ENCRYPTED_ENCODING;
}

export function createPayloadCodec({ encryptWith, keys }: PayloadKeys): PayloadCodec {
  const encryptionKey = keys.get(encryptWith);
  if (encryptionKey === undefined) throw new Error(`payload key ${encryptWith} is not among the keys`);
  const keyIdBytes = new TextEncoder().encode(encryptWith);
  const encodingBytes = new TextEncoder().encode(ENCRYPTED_ENCODING);

  function encrypt(payload: Payload): Payload {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', encryptionKey as Buffer, iv);
    // The key id is authenticated too: a payload cannot be passed off as another key's.
    cipher.setAAD(keyIdBytes);
    const sealed = Buffer.concat([iv, cipher.update(serializePayload(payload)), cipher.final(), cipher.getAuthTag()]);
    return { metadata: { encoding: encodingBytes, [KEY_ID_METADATA]: keyIdBytes }, data: sealed };
  }

  function decrypt(payload: Payload): Payload {
    if (!isEncrypted(payload)) return payload;
    const keyId = text(payload.metadata?.[KEY_ID_METADATA]) ?? '';
    const key = keys.get(keyId);
    if (key === undefined)
      throw new ValueError(`payload encrypted with key "${keyId}", which this process does not hold`);
    const sealed = Buffer.from(payload.data ?? new Uint8Array(0));
    if (sealed.length < IV_BYTES + TAG_BYTES) throw new ValueError('encrypted payload too short');
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
    decipher.setAAD(new TextEncoder().encode(keyId));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return deserializePayload(
        Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]),
      );
    } catch (error) {
      throw new ValueError(`encrypted payload does not decrypt with key "${keyId}" (altered, or another key)`, error);
    }
  }

  return {
    async encode(payloads) {
      return payloads.map(encrypt);
    },
    async decode(payloads) {
      return payloads.map(decrypt);
    },
  };
}

/** Without TEMPORAL_PAYLOAD_KEYS, customer data lies in clear text in every workflow history: say so at every start. */
export function warnIfPayloadsInClearText(config: Config, logger: Pick<LogSink, 'warn'>): void {
  if (payloadKeysOf(config) !== undefined) return;
  logger.warn(
    { namespace: config.TEMPORAL_NAMESPACE },
    'TEMPORAL_PAYLOAD_KEYS is empty: workflow payloads (names, addresses, messages) reach Temporal in clear text; ' +
      'set it in production (README, Customer data)',
  );
}
