// Customer data the tests look for where it must not be (histories, logs, spans), and the payload
// keys they encrypt with. Test keys only: they protect nothing but these fixtures.
import { loadConfig } from '../../src/config.js';
import { archiveScheduleOptions, connectTemporal } from '../../src/temporal/client.js';
export const PAYLOAD_KEY_1 = 'k1:Qys62qLbHxJRTi4hlcW5BB6CbuSFYxtL89hxOx4kTZA=';
export const PAYLOAD_KEY_2 = 'k2:CBNulABDnZIXJghkwor9JcAwQSJnSGA9cAFSnJCZVvs=';

/** A delivery address whose every line is a string found nowhere else. */
export const PRIVATE_ADDRESS = {
  recipientName: 'Zelda Quintessa-Marlowe',
  line1: '42 Quillfeather Lane',
  line2: 'Flat 7b Brambleholt House',
  city: 'Wrexhampton-on-Sea',
  postalCode: 'ZX9 8QW',
  countryCode: 'GB',
};

/** The address after the customer moved. */
export const PRIVATE_ADDRESS_MOVED = {
  recipientName: 'Zelda Quintessa-Marlowe',
  line1: '9 Vellichor Crescent',
  city: 'Quorndon-under-Lyme',
  postalCode: 'QV1 2JJ',
  countryCode: 'GB',
};

export const PRIVATE_MESSAGE = 'Dear Zelda, we are checking the parcel for your flat';
export const PRIVATE_RESOLUTION = 'Phoned Zelda at Brambleholt, identity confirmed';
export const PRIVATE_AMENDMENT_REASON = 'Zelda asked on the phone for a third jar';

/** Every string above that must not appear in clear text where customer data does not belong. */
export const PRIVATE_STRINGS = [
  PRIVATE_ADDRESS.recipientName,
  PRIVATE_ADDRESS.line1,
  PRIVATE_ADDRESS.line2,
  PRIVATE_ADDRESS.city,
  PRIVATE_ADDRESS.postalCode,
  PRIVATE_ADDRESS_MOVED.line1,
  PRIVATE_ADDRESS_MOVED.city,
  PRIVATE_ADDRESS_MOVED.postalCode,
  PRIVATE_MESSAGE,
  PRIVATE_RESOLUTION,
  PRIVATE_AMENDMENT_REASON,
  // Parts a log line might quote on their own.
  'Zelda',
  'Quintessa',
  'Quillfeather',
  'Brambleholt',
  'Vellichor',
];

/** The private strings found in `text`. */
export function privateStringsIn(text: string): string[] {
  return PRIVATE_STRINGS.filter((value) => text.includes(value));
}

/** Every byte string and string of a (history) object, as UTF-8 text, to search for clear data. */
export function allTextOf(value: unknown, into: string[] = []): string[] {
  if (value instanceof Uint8Array) into.push(Buffer.from(value).toString('utf8'));
  else if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) for (const item of value) allTextOf(item, into);
  else if (value !== null && typeof value === 'object') for (const item of Object.values(value)) allTextOf(item, into);
  return into;
}

/** Deletes the archive sweep Schedule the worker of a test environment of its own created (its task queue's). */
export async function deleteArchiveSchedule(env: Record<string, string>): Promise<void> {
  const config = loadConfig(env);
  const temporal = await connectTemporal(config);
  try {
    await temporal.client.schedule
      .getHandle(archiveScheduleOptions(config).scheduleId)
      .delete()
      .catch(() => undefined);
  } finally {
    await temporal.close();
  }
}
