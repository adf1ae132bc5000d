/** The schedule form's cron presets (ui/src/cron-presets.ts): written, recognized, zones offered, times shown in a zone. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cronFor, inZone, presetOf, timeZones } from '../../ui/src/cron-presets.js';

describe('cron presets', () => {
  it('writes each preset and recognizes what it wrote', () => {
    const cases = [
      [{ preset: 'hourly', time: '09:05', weekday: 1 }, '5 * * * *'],
      [{ preset: 'daily', time: '07:30', weekday: 1 }, '30 7 * * *'],
      [{ preset: 'weekdays', time: '18:00', weekday: 1 }, '0 18 * * 1-5'],
      [{ preset: 'weekly', time: '06:15', weekday: 5 }, '15 6 * * 5'],
    ] as const;
    for (const [state, cron] of cases) {
      assert.equal(cronFor(state), cron);
      const back = presetOf(cron, state.time);
      assert.equal(back.preset, state.preset, cron);
      assert.equal(cronFor(back), cron, cron);
    }
    assert.equal(cronFor({ preset: 'custom', time: '09:00', weekday: 1 }), null);
  });
  it('leaves anything else to the custom field', () => {
    for (const cron of ['*/5 * * * *', '0 9 1 * *', '0 9 * * 1,3', '@daily', '0 0 9 * * *', '61 * * * *', '0 24 * * *', '0 9 * * 7', '']) {
      assert.equal(presetOf(cron).preset, 'custom', cron);
    }
  });
  it('offers UTC first and the current names of renamed zones', () => {
    const zones = timeZones();
    assert.equal(zones[0], 'UTC');
    assert.equal(zones.filter((z) => z === 'UTC').length, 1);
    assert.ok(zones.includes('Europe/Berlin'));
    if (zones.includes('Asia/Calcutta')) assert.ok(zones.includes('Asia/Kolkata'));
  });
  it('shows a fire time in the schedule\'s zone', () => {
    assert.equal(inZone('2026-03-29T00:30:00.000Z', 'Europe/Berlin'), 'Sun 2026-03-29 01:30');
    assert.equal(inZone('2026-03-29T01:30:00.000Z', 'Europe/Berlin'), 'Sun 2026-03-29 03:30');
    assert.equal(inZone('2026-12-02T22:30:00.000Z', 'Asia/Tokyo'), 'Thu 2026-12-03 07:30');
  });
});
