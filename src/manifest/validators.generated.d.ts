/* Generated from schemas/*.json by `npm run gen:types` (ajv standalone). Do not edit by hand. */
import type { ValidateFunction } from 'ajv';
import type { AppManifest, HdactlConfig } from './types.generated.js';

export declare const validateApp: ValidateFunction<AppManifest>;
export declare const validateConfig: ValidateFunction<HdactlConfig>;
