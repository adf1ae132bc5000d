/**
 * A for_each's items: a literal list, one reference to a list (resolved when
 * the task becomes ready), or a grid expanded as Python's `itertools.product`
 * (the first key varies slowest, the last fastest; each item an object with one
 * value per key). At most MAX_FOR_EACH_ITEMS items.
 */
import type { ParameterValue } from '../notebook/notebook-types.js';
import { PyFloat } from '../notebook/py-float.js';
import { toJsonText } from '../notebook/write.js';
import { ForEachItemsError } from './pipeline-errors.js';
import { MAX_FOR_EACH_ITEMS, type ForEachSpec } from './types.js';

export type GridItem = { [key: string]: ParameterValue };

/** The number of items of a grid: the product of its lists' lengths (a grid without keys has one empty item, as `itertools.product()`). */
export function gridSize(grid: Record<string, readonly ParameterValue[]>): number {
  let n = 1;
  for (const values of Object.values(grid)) n *= values.length;
  return n;
}

/** The grid's items in itertools.product order; ForEachItemsError beyond `limit` items (nothing expanded then). */
export function expandGrid(grid: Record<string, readonly ParameterValue[]>, limit = MAX_FOR_EACH_ITEMS): GridItem[] {
  const size = gridSize(grid);
  if (size > limit) throw new ForEachItemsError(`the grid has ${size} items, more than ${limit}`);
  const keys = Object.keys(grid);
  const axes = keys.map((k) => grid[k]!);
  const out: GridItem[] = [];
  if (size === 0) return out;
  const at = keys.map(() => 0);
  for (let n = 0; n < size; n++) {
    const item: GridItem = {};
    keys.forEach((k, i) => Object.defineProperty(item, k, { value: axes[i]![at[i]!] as ParameterValue, enumerable: true, writable: true, configurable: true }));
    out.push(item);
    // Odometer: the last key turns fastest.
    for (let i = keys.length - 1; i >= 0; i--) {
      at[i] += 1;
      if (at[i] < axes[i]!.length) break;
      at[i] = 0;
    }
  }
  return out;
}

/**
 * The items of a for_each when its task becomes ready. `resolve` resolves the
 * references in a value (refs.ts resolveValue with the task's scope); it throws
 * PipelineReferenceError for a missing one. ForEachItemsError when the items are
 * not a list, a grid axis is not one, or there are more than `limit`.
 */
export function forEachItems(spec: ForEachSpec, resolve: (v: ParameterValue) => ParameterValue, limit = MAX_FOR_EACH_ITEMS): ParameterValue[] {
  if (spec.grid !== undefined) {
    const grid: Record<string, ParameterValue[]> = {};
    for (const [k, v] of Object.entries(spec.grid)) {
      const axis = resolve(v);
      if (!Array.isArray(axis)) throw new ForEachItemsError(`grid key '${k}' is not a list (${describe(axis)})`);
      Object.defineProperty(grid, k, { value: axis, enumerable: true, writable: true, configurable: true });
    }
    return expandGrid(grid, limit);
  }
  if (spec.items === undefined) throw new ForEachItemsError('for_each needs items or a grid');
  const items = resolve(spec.items);
  if (!Array.isArray(items)) {
    const what = typeof spec.items === 'string' ? `${spec.items} is not a list` : 'items is not a list';
    throw new ForEachItemsError(`for_each ${what} (${describe(items)})`);
  }
  if (items.length > limit) {
    const what = typeof spec.items === 'string' ? `${spec.items} gave` : 'items has';
    throw new ForEachItemsError(`for_each ${what} ${items.length} items, more than ${limit}`);
  }
  return items;
}

/** A short description of a value for an error: its type and, when short, its JSON. */
function describe(v: ParameterValue): string {
  const type =
    v === null ? 'null' : v instanceof PyFloat ? 'a float' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `a ${typeof v === 'bigint' ? 'number' : typeof v}`;
  const text = toJsonText(v);
  return text.length <= 60 ? `${type}: ${text}` : type;
}
