/**
 * The up-front check of parameters against a notebook, for callers that queue a run
 * (the service's intake) and must refuse what injection would refuse later. It is the
 * very rule `hubmill run` applies: the injected cell is rendered with the translator
 * the engine will pick, so a name that is not an identifier of the notebook's language
 * (`"a b; import os"`), a value the language cannot hold, or nesting beyond
 * MAX_PARAMETER_DEPTH is a ParameterError (422) naming the parameter.
 */
import { UnsupportedLanguageError } from '../errors.js';
import { InspectionUnsupportedError, NoParametersCellError } from './notebook-errors.js';
import { inspectParameters } from './inspect.js';
import { MAX_PARAMETER_DEPTH, tooDeepError } from './parameters-json.js';
import { PyFloat } from './py-float.js';
import { assertStrictParameters } from './strict-parameters.js';
import { getTranslator, renderParametersCell, type Translator } from './translators/index.js';
import type { InspectedParameter, Notebook, ParameterValue, Parameters } from './notebook-types.js';

/** The kernel the run will use, as the caller resolved it once (notebook/kernel.ts): this module never reads it from the notebook. */
export interface CheckTarget {
  /** The request's kernel, else the notebook's. */
  kernelName: string;
  /** The notebook's language, else its kernelspec's; undefined when not known before the kernel is up. */
  language: string | undefined;
}

/**
 * Throws ParameterError (or UnsupportedLanguageError when no translator fits) for parameters
 * the engine could not inject into `nb`. Empty parameters are never injected, so always pass.
 */
export async function checkParametersForNotebook(nb: Notebook, params: Parameters, target: CheckTarget): Promise<void> {
  if (Object.keys(params).length === 0) return;
  assertDepth(params);
  const { kernelName, language } = engineKernel(target);
  let translator: Translator;
  try {
    translator = getTranslator(kernelName, language);
  } catch (err) {
    // No language known here (e.g. a kernel only the user's server has): the engine decides when the kernel is up.
    if (err instanceof UnsupportedLanguageError && language === undefined) return;
    throw err;
  }
  renderParametersCell(params, translator);
}

/**
 * The opt-in strict check (`strict_parameters`, see strict-parameters.ts): every parameter
 * must be declared in the notebook's parameters cell and fit its type, else ParameterError
 * (422) naming each one. Needs inspection, so only Python notebooks can be checked
 * (InspectionUnsupportedError otherwise); a notebook without a parameters cell declares none.
 */
export async function checkStrictParametersForNotebook(nb: Notebook, params: Parameters, target: CheckTarget): Promise<void> {
  if (Object.keys(params).length === 0) return;
  const { kernelName, language } = engineKernel(target);
  let declared: InspectedParameter[];
  try {
    declared = inspectParameters(nb, { kernelName, language });
  } catch (err) {
    if (err instanceof NoParametersCellError) declared = [];
    else if (err instanceof InspectionUnsupportedError) {
      throw new InspectionUnsupportedError(`strict_parameters cannot be checked: ${err.message}; submit without it`, { cause: err });
    } else throw err;
  }
  assertStrictParameters(declared, params);
}

/**
 * The names the notebook's parameters cell declares (papermill's inspection, as
 * `hubmill inspect` reads them): [] without a parameters cell, null when the
 * language cannot be inspected (only Python notebooks can). Pipelines push their
 * parameters down only into notebooks that declare them.
 */
export function declaredParameterNames(nb: Notebook, target: CheckTarget): string[] | null {
  try {
    return inspectParameters(nb, engineKernel(target)).map((p) => p.name);
  } catch (err) {
    if (err instanceof NoParametersCellError) return [];
    if (err instanceof InspectionUnsupportedError || err instanceof UnsupportedLanguageError) return null;
    throw err;
  }
}

/** The engine's choice: the kernel name lower-cased, the resolved language. */
function engineKernel(target: CheckTarget): { kernelName: string; language: string | undefined } {
  return { kernelName: target.kernelName.toLowerCase(), language: target.language };
}

/** ParameterError when `value` nests deeper than MAX_PARAMETER_DEPTH; iterative, so any depth is safe to check. */
export function assertDepth(value: ParameterValue): void {
  const stack: Array<[ParameterValue, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object' || v instanceof PyFloat) continue;
    if (depth > MAX_PARAMETER_DEPTH) throw tooDeepError();
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
}
