// Which failures mean "a dependency is unreachable right now" (503, retry later).
import { describe, expect, it } from 'vitest';
import { isUnavailable } from '../../src/unavailable.js';

const withCode = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('isUnavailable', () => {
  it("takes PgBouncer's errors (SQLSTATE 08P01: server conn crashed, cannot connect to server) as unavailability", () => {
    expect(isUnavailable(withCode('08P01', 'server conn crashed?'))).toBe(true);
    expect(isUnavailable(withCode('08P01', 'pgbouncer cannot connect to server'))).toBe(true);
  });

  it('takes PostgreSQL going away and refused connections as unavailability', () => {
    expect(isUnavailable(withCode('57P01'))).toBe(true);
    expect(isUnavailable(withCode('ECONNREFUSED'))).toBe(true);
    expect(isUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('does not take what the data caused for unavailability', () => {
    expect(isUnavailable(withCode('23505', 'duplicate key value violates unique constraint'))).toBe(false);
    expect(isUnavailable(withCode('22P02', 'invalid input syntax'))).toBe(false);
  });
});
