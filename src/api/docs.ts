/**
 * The API reference: the OpenAPI 3.1 document built from the routes' Zod schemas at
 * /docs/openapi.json, and a browsable page (Swagger UI) at /docs. Neither needs a key.
 */
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { jsonSchemaTransform, jsonSchemaTransformObject } from "fastify-type-provider-zod";

export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Nova Core Banking Service API",
        description:
          "Accounts, double-entry postings, reversals and holds. Money is a decimal string; " +
          "errors are RFC 9457 problem+json with a stable `code`. Commands answer with a " +
          "`position`; send it as `X-Min-Position` to read your own writes.",
        version: "1",
      },
      components: {
        securitySchemes: { apiKey: { type: "http", scheme: "bearer" } },
      },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: "/docs" });
  app.get("/docs/openapi.json", { config: { public: true }, schema: { hide: true } }, () =>
    app.swagger(),
  );
}
