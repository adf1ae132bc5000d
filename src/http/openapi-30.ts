/**
 * The OpenAPI document is 3.0.3, whose Schema Object is an older JSON Schema
 * than the draft-07 the routes validate with (AJV): there `exclusiveMinimum: 0`
 * is a number, in 3.0 a boolean beside `minimum`. The routes keep their draft-07
 * schemas (so AJV still refuses a 0 timeout); the document gets the 3.0 spelling.
 */

/** A copy of `doc` with each numeric `exclusiveMinimum`/`exclusiveMaximum` written the OpenAPI 3.0 way. */
export function openApi30Bounds<T>(doc: T): T {
  return rewrite(doc) as T;
}

function rewrite(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewrite);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = rewrite(v);
  for (const [exclusive, inclusive, stricter] of [
    ['exclusiveMinimum', 'minimum', Math.max],
    ['exclusiveMaximum', 'maximum', Math.min],
  ] as const) {
    const bound = out[exclusive];
    if (typeof bound !== 'number') continue;
    const other = out[inclusive];
    // Both given: the stricter one wins; an inclusive bound that is stricter stays inclusive.
    if (typeof other === 'number' && stricter(other, bound) === other && other !== bound) {
      delete out[exclusive];
      continue;
    }
    out[inclusive] = bound;
    out[exclusive] = true;
  }
  return out;
}
