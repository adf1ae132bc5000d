import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoformatUtc, nowMicros, secondsBetween } from '../../src/engine/papermill-time.js';

test("isoformatUtc writes Python's datetime.isoformat() of a UTC time", () => {
  const us = Date.UTC(2026, 11, 2, 6, 22, 11) * 1000 + 693_370;
  assert.equal(isoformatUtc(us), '2026-12-02T06:22:11.693370+00:00');
  assert.equal(isoformatUtc(us - 693_370 + 5), '2026-12-02T06:22:11.000005+00:00');
  // Python leaves the fraction out when the microseconds are zero.
  assert.equal(isoformatUtc(us - 693_370), '2026-12-02T06:22:11+00:00');
  assert.equal(isoformatUtc(-1), '1969-12-31T23:59:59.999999+00:00');
});

test('secondsBetween is timedelta.total_seconds() at microsecond precision', () => {
  assert.equal(secondsBetween(1_000_000, 3_500_001), 2.500001);
  assert.equal(secondsBetween(5, 5), 0);
});

test('nowMicros follows the wall clock within a millisecond and has sub-millisecond digits', () => {
  const before = Date.now() * 1000;
  const samples = Array.from({ length: 2000 }, () => nowMicros());
  const after = Date.now() * 1000 + 1000;
  for (const s of samples) {
    assert.ok(Number.isInteger(s));
    assert.ok(s >= before - 1000 && s <= after, `${s} outside [${before}, ${after}]`);
  }
  assert.ok(samples.some((s) => s % 1000 !== 0), 'some stamps carry microseconds');
});
