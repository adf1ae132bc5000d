/**
 * The intake check uses the injection rule itself: names that are not identifiers of the
 * notebook's language, values the language cannot hold and over-deep nesting are refused;
 * the language comes from the notebook, then from the kernelspec.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ParameterError, UnsupportedLanguageError } from '../../src/errors.js';
import { checkParametersForNotebook } from '../../src/notebook/check-parameters.js';
import { notebookKernel } from '../../src/notebook/kernel.js';
import { injectParameters } from '../../src/notebook/inject.js';
import { MAX_PARAMETER_DEPTH } from '../../src/notebook/parameters-json.js';
import type { Notebook, ParameterValue } from '../../src/notebook/notebook-types.js';

const nb = (kernelspec: Record<string, string> | null): Notebook =>
  ({ nbformat: 4, nbformat_minor: 5, metadata: kernelspec ? { kernelspec } : {}, cells: [] }) as unknown as Notebook;
const PY = nb({ name: 'python3', language: 'python', display_name: 'Python 3' });
const R = nb({ name: 'ir', language: 'R', display_name: 'R' });
const BASH = nb({ name: 'bash', language: 'bash', display_name: 'Bash' });

describe('checkParametersForNotebook', () => {
  test('refuses what injection refuses, with the same message (one rule with hubmill run)', async () => {
    for (const [notebook, kernel, params] of [
      [PY, 'python3', { 'a b; import os': 1 }],
      [PY, 'python3', { '1x': 1 }],
      [R, 'ir', { 'a-b': 1 }],
      [BASH, 'bash', { d: { k: 1 } }],
    ] as const) {
      let injectError: unknown;
      try {
        injectParameters(notebook, params, { kernelName: kernel, language: notebookKernel(notebook).language });
      } catch (e) {
        injectError = e;
      }
      assert.ok(injectError instanceof ParameterError, 'injection refuses it');
      await assert.rejects(checkParametersForNotebook(notebook, params, { kernelName: kernel, language: notebookKernel(notebook).language }), (e: unknown) => e instanceof ParameterError && e.message === (injectError as Error).message);
    }
  });

  test('accepts valid names, and empty parameters even without a translator', async () => {
    await checkParametersForNotebook(PY, { lr: 1, _private: 'x', ñame: true }, { kernelName: 'python3', language: 'python' });
    await checkParametersForNotebook(R, { x: 1, 'my.var': 2 }, { kernelName: 'ir', language: 'R' });
    await checkParametersForNotebook(nb({ name: 'cobol', language: 'cobol' }), {}, { kernelName: 'cobol', language: 'cobol' });
  });

  test("takes the caller's resolved language, never the notebook's; defers when nobody knows it", async () => {
    const bare = nb(null);
    await assert.rejects(checkParametersForNotebook(bare, { 'a b': 1 }, { kernelName: 'python3', language: 'python' }), ParameterError);
    await checkParametersForNotebook(bare, { 'a b': 1 }, { kernelName: 'python3', language: undefined });
    // The notebook says python, the resolved kernel is bash: bash's rule applies (a nested value bash cannot hold).
    await assert.rejects(checkParametersForNotebook(PY, { d: { k: 1 } }, { kernelName: 'bash', language: 'bash' }), ParameterError);
    await assert.rejects(checkParametersForNotebook(nb({ name: 'cobol', language: 'cobol' }), { x: 1 }, { kernelName: 'cobol', language: 'cobol' }), UnsupportedLanguageError);
  });

  test(`refuses nesting beyond ${MAX_PARAMETER_DEPTH} levels without recursing, even at 100,000 levels`, async () => {
    const nest = (levels: number) => {
      let v: ParameterValue = 1;
      for (let i = 0; i < levels; i++) v = [v];
      return v;
    };
    await checkParametersForNotebook(PY, { a: nest(MAX_PARAMETER_DEPTH - 1) }, { kernelName: 'python3', language: 'python' });
    for (const levels of [MAX_PARAMETER_DEPTH, 100_000]) {
      await assert.rejects(checkParametersForNotebook(PY, { a: nest(levels) }, { kernelName: 'python3', language: 'python' }), (e: unknown) => e instanceof ParameterError && e.message.includes(`${MAX_PARAMETER_DEPTH} levels`));
    }
  });
});
