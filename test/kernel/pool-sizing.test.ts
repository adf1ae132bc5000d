/** The warm pool's sizing rule (src/kernel/pool-sizing.ts) on a fake clock: target = clamp(ceil(rate × refill) + 1, min, max). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PoolSizer } from '../../src/kernel/pool-sizing.js';

function sizer(min: number, max: number) {
  const clock = { t: 0 };
  return { clock, s: new PoolSizer({ min, max }, () => clock.t) };
}

describe('PoolSizer', () => {
  test('with nothing measured the target is the configured size (at least 1); a size of 0 is no pool', () => {
    assert.equal(sizer(2, 8).s.target(), 2);
    assert.equal(sizer(1, 8).s.target(), 1);
    const off = sizer(0, 8);
    off.s.refilled(300);
    for (let i = 0; i < 100; i++) off.s.arrival();
    assert.equal(off.s.target(), 0);
  });

  test('a steady 5 jobs/s reads as 5/s; with a 300 ms refill the target is ceil(1.5) + 1 = 3', () => {
    const { clock, s } = sizer(1, 8);
    s.refilled(300);
    for (let i = 0; i < 100; i++) {
      clock.t += 200;
      s.arrival();
      if (i > 60) assert.ok(s.rate() > 4.8 && s.rate() < 5.2, `rate ${s.rate()}`);
    }
    assert.equal(s.target(), 3);
    // The same rate with a 150 ms refill (a faster machine or the zygote): ceil(0.75) + 1 = 2.
    s.refilled(150);
    for (let i = 0; i < 20; i++) s.refilled(150);
    assert.ok(Math.abs(s.refillTimeMs()! - 150) < 1);
    assert.equal(s.target(), 2);
  });

  test('the refill time is a weighted mean of the last refills (0.3 for the newest)', () => {
    const { s } = sizer(1, 8);
    assert.equal(s.refillTimeMs(), null);
    s.refilled(100);
    assert.equal(s.refillTimeMs(), 100);
    s.refilled(200);
    assert.ok(Math.abs(s.refillTimeMs()! - 130) < 1e-9);
    s.refilled(-5);
    s.refilled(Number.NaN);
    assert.ok(Math.abs(s.refillTimeMs()! - 130) < 1e-9, 'nonsense measurements are ignored');
  });

  test('a burst raises the target up to the ceiling; without arrivals it decays back to the size', () => {
    const { clock, s } = sizer(2, 4);
    s.refilled(200);
    for (let i = 0; i < 100; i++) s.arrival(); // 100 at once: 100 / 3 s = 33.3/s
    assert.ok(Math.abs(s.rate() - 100 / 3) < 1e-9);
    assert.equal(s.target(), 4, 'ceil(33.3 × 0.2) + 1 = 8, capped at 4');
    clock.t += 3000;
    assert.ok(Math.abs(s.rate() - 100 / 3 / Math.E) < 1e-9, 'e-fold in τ = 3 s');
    assert.equal(s.target(), 4, 'ceil(12.3 × 0.2) + 1 = 4');
    clock.t += 3000;
    assert.equal(s.target(), 2, 'ceil(4.5 × 0.2) + 1 = 2');
    clock.t += 30_000;
    assert.equal(s.target(), 2);
  });

  test('a ceiling below the size leaves the pool at its size', () => {
    const { s } = sizer(3, 0);
    s.refilled(1000);
    for (let i = 0; i < 50; i++) s.arrival();
    assert.equal(s.target(), 3);
  });
});
