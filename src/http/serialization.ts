/**
 * Response serializers: Fastify's own (fast-json-stringify, with the schemas added to the app),
 * each compiled when its route first answers with that status, not when the route is added:
 * start-up compiles nothing, and a process holds the code of the responses it sends only (the
 * first such response pays a few ms).
 */
import SerializerSelector from '@fastify/fast-json-stringify-compiler';

type SerializerFactory = ReturnType<typeof SerializerSelector>;

const fastJsonStringify = SerializerSelector();

/** For Fastify's `schemaController.compilersFactory.buildSerializer`. */
export const serializersOnFirstUse: SerializerFactory = (externalSchemas, options) => {
  const compile = fastJsonStringify(externalSchemas, options);
  return (route) => {
    let serialize: ((doc: unknown) => string) | undefined;
    return (doc) => {
      serialize ??= compile(route);
      return serialize(doc);
    };
  };
};
