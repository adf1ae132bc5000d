/** Public API of the notebook layer. */
export type * from './types.js';
export { PyFloat, pyFloatRepr } from './py-float.js';
export { readNotebookFile, parseNotebook, sourceText, newCellId } from './read.js';
export { serializeNotebook, writeNotebookFile, writeFileAtomic, toJsonText, splitLines } from './write.js';
export { parsePValue, parseYamlParameters, mergeParameters, type ParameterSources } from './parameters.js';
export {
  Translator,
  getTranslator,
  renderParametersCell,
  pythonLiteral,
  rLiteral,
} from './translators.js';
export {
  injectParameters,
  removeErrorMarkers,
  makeErrorMarkers,
  insertErrorMarkers,
  INJECTED_TAG,
  PARAMETERS_TAG,
  ERROR_MARKER_TAG,
  NO_PARAMETERS_CELL_WARNING,
  type InjectOptions,
  type InjectResult,
} from './inject.js';
export {
  inspectParameters,
  inspectPythonSource,
  formatInspection,
  findTaggedCell,
  cellTags,
  notebookKernel,
  type InspectOptions,
} from './inspect.js';
export { parameterizePath, type PathTemplateOptions } from './output-path.js';
export { NoParametersCellError, InspectionUnsupportedError } from './errors.js';
export { encodeParameters, decodeParameters, parametersToJson, parametersFromJson } from './parameters-json.js';
