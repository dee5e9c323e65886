/** Generated at build time by scripts/build.mjs (ajv standalone code, and the field names, from schema.ts). */
import type { ErrorObject } from 'ajv';
interface Validator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}
export const validateConfig: Validator;
export const validateState: Validator;
export const validateProcess: Validator;
export const validateResources: Validator;
/** An object's field names (and what lies below each), a map's values, or an array's items. */
export type Shape = { keys: Record<string, Shape | null> } | { values: Shape | null } | { items: Shape };
export const configShape: Shape;
export const processShape: Shape;
export const resourcesShape: Shape;
