/** The benchmark notebooks, generated fresh for every run (nbformat 4.5, python3 kernelspec). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const META = {
  kernelspec: { display_name: 'Python 3 (ipykernel)', language: 'python', name: 'python3' },
  language_info: { name: 'python' },
};

function notebook(sources: string[]): string {
  return `${JSON.stringify(
    {
      cells: sources.map((source, i) => ({
        cell_type: 'code',
        execution_count: null,
        id: `cell-${i}`,
        metadata: {},
        outputs: [],
        source,
      })),
      metadata: META,
      nbformat: 4,
      nbformat_minor: 5,
    },
    null,
    1,
  )}\n`;
}

export const TRIVIAL_CELLS = ['1+1'];
export const MANY_CELLS = Array.from({ length: 200 }, (_, i) => `x_${i} = ${i} * 2`);

export interface BenchNotebooks {
  trivial: string;
  many: string;
}

export function writeNotebooks(dir: string): BenchNotebooks {
  const trivial = join(dir, 'trivial.ipynb');
  const many = join(dir, 'cells200.ipynb');
  writeFileSync(trivial, notebook(TRIVIAL_CELLS));
  writeFileSync(many, notebook(MANY_CELLS));
  return { trivial, many };
}
