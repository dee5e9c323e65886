/** Generated at build time by scripts/build.mjs (ajv standalone code from schema.ts). */
import type { ErrorObject } from 'ajv';
interface Validator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}
export const validateConfig: Validator;
export const validateState: Validator;
export const validateProcess: Validator;
export const validateResources: Validator;
