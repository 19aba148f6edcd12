/**
 * The lab's error type: a VM or lab operation that failed (exit class "lab"). Missing tools or
 * devices are EnvironmentError and bad flags UsageError, both from src/cli/errors.ts.
 */
import { LaggkitError } from '../cli/errors.js';

export class LabError extends LaggkitError {
  constructor(code: string, message: string, suggestion?: string, options?: { cause?: unknown }) {
    super('lab', code, message, suggestion, options);
    this.name = 'LabError';
  }
}
