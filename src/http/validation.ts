/**
 * Request validation with two Ajv instances: bodies are validated strictly (no type coercion,
 * unknown fields rejected, nothing removed silently); querystrings, params and headers arrive as
 * text, so those coerce ("20" → 20). Fastify's default would coerce bodies and silently drop
 * unknown fields, which hides client bugs. Each schema is compiled when its route first validates,
 * not when the route is added: start-up compiles nothing, and a process holds the code of the
 * routes it serves only (the first request of a route pays a few ms).
 */

import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function makeAjv(coerceTypes: boolean): Ajv {
  const ajv = new Ajv({
    coerceTypes: coerceTypes ? 'array' : false,
    useDefaults: true,
    removeAdditional: false,
    allErrors: false,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

/**
 * Ajv's function for `schema`, compiled at its first call. Fastify reads `schemaEnv` before each
 * call (to pass the parent object, so that Ajv may coerce a root value) and `errors` after one.
 */
function compiledOnFirstUse(compile: () => ValidateFunction): ValidateFunction {
  let compiled: ValidateFunction | undefined;
  const get = () => {
    compiled ??= compile();
    return compiled;
  };
  const validate = ((data: unknown, dataCxt?: Parameters<ValidateFunction>[1]) => {
    const fn = get();
    const valid = fn(data, dataCxt);
    validate.errors = fn.errors;
    return valid;
  }) as ValidateFunction;
  validate.errors = null;
  Object.defineProperty(validate, 'schemaEnv', { get: () => get().schemaEnv });
  return validate;
}

export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = makeAjv(false);
  const coercing = makeAjv(true);
  return ({ schema, httpPart }) =>
    compiledOnFirstUse(() =>
      (httpPart === 'body' ? strict : coercing).compile(schema as object),
    ) as ReturnType<FastifySchemaCompiler<unknown>>;
}
