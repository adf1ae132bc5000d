/** Errors specific to the notebook layer (the shared ones live in src/errors.ts). */
import { HubmillError } from '../errors.js';

/** Inspection found no cell tagged `parameters`. Raised by inspectParameters; CLI prints it and exits 1; 422. */
export class NoParametersCellError extends HubmillError {
  override readonly code = 'NO_PARAMETERS_CELL';
  override readonly httpStatus = 422;
}

/** Parameter inspection is implemented for Python only (as in papermill). Raised by inspectParameters; 422. */
export class InspectionUnsupportedError extends HubmillError {
  override readonly code = 'INSPECTION_UNSUPPORTED';
  override readonly httpStatus = 422;
}
