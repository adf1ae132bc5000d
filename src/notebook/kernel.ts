/**
 * The one reader of a notebook's kernel (`metadata.kernelspec`, `language_info`):
 * every other module gets the kernel's name and language from whoever read them
 * here once. For a job that is the intake, at submission (stored with the job:
 * `kernel`, `kernel_language`) or, for a notebook read only when the job runs
 * (the user's server), at that run; for `hubmill run`, the CLI before it starts
 * the engine; for inspection (`--help-notebook`, the parameters form), the
 * inspection itself. test/architecture/kernel-reader.test.ts keeps it so.
 */
import type { Notebook } from './notebook-types.js';

/** The kernel name and language a notebook declares, with overrides applied. */
export function notebookKernel(nb: Notebook, kernelName?: string, language?: string): { kernelName: string | undefined; language: string | undefined } {
  const md = nb.metadata as { kernelspec?: { name?: unknown; language?: unknown }; language_info?: { name?: unknown } };
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return {
    kernelName: kernelName ?? str(md.kernelspec?.name),
    language: language ?? str(md.kernelspec?.language) ?? str(md.language_info?.name),
  };
}
