/**
 * Results a notebook records with scrapbook's `glue`: display data of MIME type
 * application/scrapbook.scrap.json+json holding {name, data, encoder, version}.
 * Later scraps with the same name win, as in scrapbook.
 */
import type { Notebook } from '../notebook/notebook-types.js';

export const SCRAP_JSON_MIME = 'application/scrapbook.scrap.json+json';

export function collectScraps(nb: Notebook): Record<string, unknown> {
  const results: Record<string, unknown> = {};
  for (const cell of nb.cells) {
    if (cell.cell_type !== 'code') continue;
    for (const out of (cell.outputs as Array<Record<string, unknown>>) ?? []) {
      if (out.output_type !== 'display_data' && out.output_type !== 'execute_result') continue;
      const scrap = (out.data as Record<string, unknown> | undefined)?.[SCRAP_JSON_MIME] as Record<string, unknown> | undefined;
      if (scrap && typeof scrap.name === 'string') results[scrap.name] = scrap.data;
    }
  }
  return results;
}
