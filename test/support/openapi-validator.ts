/**
 * Checks a response against the OpenAPI document the app serves: the route's operation must
 * declare the status (exactly, as a range like 4XX, or as `default`), the content type, and a
 * body the declared schema accepts. Responses of routes the document leaves out (SPA, media,
 * unknown paths) are not checked. test-app.ts runs it on every `inject` of the API suites, so
 * that the code and its description cannot drift apart.
 */

import type { ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

type Operation = { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> };
type Document = { paths: Record<string, Record<string, Operation>> };

/** The parts of a light-my-request response that are checked. */
export type CheckedResponse = Readonly<{
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}>;

export class ResponseDriftError extends Error {
  override name = 'ResponseDriftError';
}

const pointer = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1');

/** A checker for responses to `method url`, built from the document once. */
export function responseChecker(doc: Document): (method: string, url: string, res: CheckedResponse) => void {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc as object, 'openapi');
  // Static paths before templated ones, so /api/seller/products never matches /api/products/{id}.
  const routes = Object.keys(doc.paths)
    .map((path) => ({
      path,
      params: (path.match(/\{/g) ?? []).length,
      regex: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    }))
    .sort((a, b) => a.params - b.params);
  const validators = new Map<string, ValidateFunction>();

  return (method, url, res) => {
    // The path the server routes, as a URL parser leaves it: `%2e%2e` is a dot segment, so
    // `/api/cart/items/%2e%2e` reaches `/api/cart/`, not the item route.
    const path = new URL(url, 'http://localhost').pathname;
    const route = routes.find((r) => r.regex.test(path));
    const verb = method.toLowerCase();
    const operation = route ? doc.paths[route.path]?.[verb] : undefined;
    if (!route || !operation) return;
    const where = `${method.toUpperCase()} ${route.path} answered ${res.statusCode}`;
    const responses = operation.responses ?? {};
    const status =
      [String(res.statusCode), `${String(res.statusCode)[0]}XX`, 'default'].find((s) => s in responses) ??
      fail(
        `${where}, which the document does not declare (it declares ${Object.keys(responses).join(', ')})`,
      );
    const content = responses[status]?.content;
    if (!content) {
      if (res.body.length > 0) fail(`${where} with a body, where the document declares none`);
      return;
    }
    const type = String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    if (!(type in content)) {
      fail(
        `${where} as ${type || 'no content type'}, where the document declares ${Object.keys(content).join(', ')}`,
      );
    }
    const key = `${route.path} ${verb} ${status} ${type}`;
    let validate = validators.get(key);
    if (!validate) {
      const ref = `openapi#/paths/${pointer(route.path)}/${verb}/responses/${status}/content/${pointer(type)}/schema`;
      validate = ajv.getSchema(ref) ?? fail(`no schema at ${ref}`);
      validators.set(key, validate);
    }
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      fail(`${where} with a body that is not JSON: ${res.body.slice(0, 200)}`);
    }
    if (!validate(body)) {
      fail(
        `${where} with a body its schema refuses: ${ajv.errorsText(validate.errors)}\n${res.body.slice(0, 500)}`,
      );
    }
  };
}

function fail(message: string): never {
  throw new ResponseDriftError(`response differs from /openapi.json: ${message}`);
}
