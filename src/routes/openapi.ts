/** `/openapi.json`, generated from the same zod schemas that validate requests. */
import { keySettings } from "../accounts/key-admin.js";
import { z } from "zod";
import { drawingRequest, portraitRequest, seededitRequest, seededitRequestV1, seedream4Request, seedream4RequestV1, seedreamRequest, seedreamRequestV1 } from "../api/schemas.js";

const schema = (zodSchema: z.ZodType) => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(zodSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
};


const errorEnvelope = {
  type: "object",
  required: ["error", "request_id"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "message_cn", "param", "type", "err_code"],
      properties: {
        code: { type: "string" },
        message: { type: "string" },
        message_cn: { type: "string" },
        param: { type: ["string", "null"] },
        type: { type: "string", enum: ["invalid_request_error", "authentication_error", "permission_error", "rate_limit_error", "upstream_error", "server_error"] },
        err_code: { type: "integer" },
      },
    },
    request_id: { type: "string" },
  },
};

const arkResponse = {
  type: "object",
  required: ["model", "created", "data", "usage"],
  properties: {
    model: { type: "string" },
    created: { type: "integer" },
    data: {
      type: "array",
      description: "One item per image in order; 4.x/5.x items carry size (and output_format on 5.x), and an image that could not be made is {error} at its place",
      items: {
        type: "object",
        properties: {
          url: { type: "string" }, b64_json: { type: "string" }, size: { type: "string" }, output_format: { type: "string" },
          error: { type: "object", properties: { code: { type: "string" }, message: { type: "string" } } },
        },
      },
    },
    usage: {
      type: "object",
      description: "As the upstream sent it for 4.x/5.x (5.x adds input_images and tool_usage)",
      properties: { generated_images: { type: "integer" }, output_tokens: { type: "integer" }, total_tokens: { type: "integer" }, input_images: { type: "integer" } },
    },
  },
};

const envelope = {
  type: "object",
  required: ["code", "message", "request_id", "time_elapsed", "data"],
  properties: {
    code: { type: "integer", const: 10000 },
    status: {},
    message: { type: "string" },
    request_id: { type: "string" },
    time_elapsed: { type: "string" },
    data: {
      type: "object",
      properties: {
        image_urls: { type: "array", items: { type: "string" } },
        binary_data_base64: { type: "array", items: { type: "string" } },
        algorithm_base_resp: { type: "object" },
      },
    },
  },
};

const errors = {
  "400": { description: "Bad input, or an upstream content refusal", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
  "401": { description: "Missing, unknown or revoked API key", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
  "413": { description: "Body over the size limit", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
  "502": { description: "Upstream failure", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
  "503": { description: "No upstream configured for the model", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
  "504": { description: "Upstream timeout", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
};

const json = (value: unknown) => ({ required: true, content: { "application/json": { schema: value } } });
const ok = (value: unknown) => ({ "200": { description: "Success", content: { "application/json": { schema: value } } }, ...errors });
/** A 200 that is JSON, or server-sent events with `stream: true` (LIVE-MODELS.md §2.4). */
const okOrStreamed = (value: unknown, events: string) => ({
  "200": {
    description: "Success; with stream: true, server-sent events",
    content: { "application/json": { schema: value }, "text/event-stream": { schema: { type: "string", description: events } } },
  },
  ...errors,
});

/** `?async=true`: 202 {task_id} at once, the result at /async_result (CONTRACT.md §1). */
const asyncParameter = { name: "async", in: "query", schema: { type: "string", enum: ["true", "false"], default: "false" }, description: "true: answer 202 {task_id} at once; fetch the result at /async_result" };

export function buildOpenApi(serverUrl: string): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: { title: "doubao-gateway", version: "0.1.0", description: "302.AI-compatible Doubao image API (Seedream, SeedEdit, general drawing, portrait)." },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        Error: errorEnvelope,
        SeedreamRequest: schema(seedreamRequest),
        SeededitRequest: schema(seededitRequest),
        SeedreamRequestV1: schema(seedreamRequestV1),
        SeededitRequestV1: schema(seededitRequestV1),
        Seedream4Request: schema(seedream4Request),
        Seedream4RequestV1: schema(seedream4RequestV1),
        DrawingRequest: schema(drawingRequest),
        PortraitRequest: schema(portraitRequest),
        ArkResponse: arkResponse,
        VolcengineEnvelope: envelope,
        KeySettings: schema(keySettings),
      },
    },
    paths: {
      "/doubao/images/generations": {
        post: {
          summary: "Seedream 4.0/4.5/5.0/5.0-pro, Seedream 3.0, SeedEdit 3.0 (302.AI path). What each 4.x/5.x model accepts: GET /v1/models/{id} capabilities",
          parameters: [asyncParameter],
          requestBody: json({ oneOf: [{ $ref: "#/components/schemas/Seedream4Request" }, { $ref: "#/components/schemas/SeedreamRequest" }, { $ref: "#/components/schemas/SeededitRequest" }] }),
          responses: okOrStreamed({ $ref: "#/components/schemas/ArkResponse" }, "Ark's events: image_generation.partial_succeeded / partial_failed / completed, then data: [DONE]"),
        },
      },
      "/v1/images/generations": {
        post: {
          summary: "The same models (OpenAI-style path, with n: exactly n images)",
          parameters: [asyncParameter],
          requestBody: json({ oneOf: [{ $ref: "#/components/schemas/Seedream4RequestV1" }, { $ref: "#/components/schemas/SeedreamRequestV1" }, { $ref: "#/components/schemas/SeededitRequestV1" }] }),
          responses: okOrStreamed({ $ref: "#/components/schemas/ArkResponse" }, "OpenAI's events: image_generation.completed per image (b64_json), error on failure"),
        },
      },
      "/v1/images/edits": {
        post: {
          summary: "SeedEdit 3.0 as the openai SDK's images.edit sends it",
          parameters: [asyncParameter],
          requestBody: {
            required: true,
            content: {
              "multipart/form-data": {
                schema: {
                  type: "object",
                  required: ["image", "prompt"],
                  properties: {
                    image: { type: "string", format: "binary" }, prompt: { type: "string" }, model: { type: "string" },
                    response_format: { type: "string", enum: ["url", "b64_json"] }, n: { type: "integer", minimum: 1, maximum: 4 }, size: { type: "string", enum: ["adaptive"] },
                  },
                },
              },
            },
          },
          responses: ok({ $ref: "#/components/schemas/ArkResponse" }),
        },
      },
      "/doubao/drawing": {
        post: {
          summary: "General drawing v2.1_L / v2.0_L / v2.0",
          parameters: [asyncParameter],
          requestBody: json({ $ref: "#/components/schemas/DrawingRequest" }),
          responses: ok({ $ref: "#/components/schemas/VolcengineEnvelope" }),
        },
      },
      "/doubao/drawing/portrait": {
        post: {
          summary: "Portrait photo (i2i_portrait_photo)",
          parameters: [{ name: "response_format", in: "query", schema: { type: "string", enum: ["url", "b64_json"], default: "url" } }, asyncParameter],
          requestBody: json({ $ref: "#/components/schemas/PortraitRequest" }),
          responses: ok({ $ref: "#/components/schemas/VolcengineEnvelope" }),
        },
      },
      "/v1/models": { get: { summary: "Models that can be served now, with kind, aliases, lifecycle, capabilities and price", responses: { "200": { description: "OpenAI model list" } } } },
      "/v1/models/{id}": {
        get: {
          summary: "One model of the table (by id or alias), whatever its lifecycle",
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
          responses: { "200": { description: "The model" }, "404": { description: "Not in the table" } },
        },
      },
      "/files/{day}/{name}": {
        get: {
          summary: "A stored result (no key needed; expires)",
          security: [],
          parameters: [
            { name: "day", in: "path", required: true, schema: { type: "string" } },
            { name: "name", in: "path", required: true, schema: { type: "string" } },
          ],
          responses: { "200": { description: "The image", content: { "image/jpeg": {} } }, "404": { description: "Unknown or expired" } },
        },
      },
      "/health": { get: { summary: "Liveness", security: [], responses: { "200": { description: "ok" } } } },
      "/async_result": {
        get: {
          summary: "The result of a request made with ?async=true (alias /v1/async_result): {status_code: 202, err: \"result pending\"} until done, then {status_code, content_type, data, err}",
          parameters: [{ name: "task_id", in: "query", required: true, schema: { type: "string" } }],
          responses: { "200": { description: "Pending, or the synchronous status and body" }, "404": { description: "No such task for this key" } },
        },
      },
      "/v1/usage": { get: { summary: "The calling key's usage (?since, until, group_by=model,day, format=json|csv)", responses: { "200": { description: "Usage report" } } } },
      "/admin/keys": {
        get: { summary: "All keys (admin)", responses: { "200": { description: "Key list" } } },
        post: { summary: "Create a key (admin); the secret is only in this answer", requestBody: json({ $ref: "#/components/schemas/KeySettings" }), responses: { "201": { description: "{key, secret}" } } },
      },
      "/admin/keys/{id}": {
        get: { summary: "One key (admin)", responses: { "200": { description: "Key" }, "404": { description: "Unknown key" } } },
        patch: { summary: "Change a key's settings (admin)", requestBody: json({ $ref: "#/components/schemas/KeySettings" }), responses: { "200": { description: "Key" } } },
        delete: { summary: "Delete a key (admin); its usage stays", responses: { "200": { description: "{id, deleted}" } } },
      },
      "/admin/keys/{id}/disable": { post: { summary: "Disable a key (admin)", responses: { "200": { description: "Key" } } } },
      "/admin/keys/{id}/enable": { post: { summary: "Enable a key (admin)", responses: { "200": { description: "Key" } } } },
      "/admin/usage": { get: { summary: "Usage per key, model, day (admin; ?since, until, group_by, key, format)", responses: { "200": { description: "Usage report" } } } },
    },
  };
}
