/** `/openapi.json`, generated from the same zod schemas that validate requests. */
import { keySettings } from "../accounts/key-admin.js";
import { z } from "zod";
import { recentRequestsQuery, usageQuery } from "@doubao-gateway/sdk/schemas";
import { drawingRequest, portraitRequest, seededitRequest, seededitRequestV1, seedream4Request, seedream4RequestV1, seedreamRequest, seedreamRequestV1 } from "./schemas.js";

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

const error = (description: string) => ({ description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });
/** The errors every authenticated endpoint may answer. */
const authErrors = {
  "401": error("Missing, unknown, disabled or expired API key (err_code -10001 / -10002)"),
  "403": error("The key may not use this model (-10013) or endpoint (-10009)"),
  "429": error("The key's rate, concurrency (-10012) or quota (-10006 total, -10007 daily); Retry-After says when"),
};
const errors = {
  "400": error("Bad input (the field and the rule are named), or an upstream content refusal"),
  ...authErrors,
  "410": error("The model is retired and nothing replaces it (ModelRetired names one to use)"),
  "413": error("Body over the size limit"),
  "415": error("The body is not JSON (multipart for /v1/images/edits)"),
  "502": error("Upstream failure, or the upstream refused the gateway's account"),
  "503": error("No upstream available for the model (-10008): none configured, breakers open, or the upstream overloaded; Retry-After"),
  "504": error("Upstream timeout"),
};
/** `?async=true`'s answer. */
const accepted = { "202": { description: "With ?async=true: the task to poll", content: { "application/json": { schema: { $ref: "#/components/schemas/TaskSubmitted" } } } } };

const answerSchemas: Record<string, unknown> = {
  TaskSubmitted: { type: "object", required: ["task_id"], properties: { task_id: { type: "string" } } },
  TaskResult: {
    type: "object", required: ["status_code", "err"],
    properties: { status_code: { type: "integer", description: "202 while pending, then the synchronous call's status" }, content_type: { type: "string" }, data: { type: "string", description: "the synchronous call's body, as a JSON string" }, err: { type: "string" } },
  },
  Model: {
    type: "object", required: ["id", "object", "created", "owned_by", "kind", "aliases", "lifecycle", "price"],
    properties: {
      id: { type: "string" }, object: { const: "model" }, created: { type: "integer" }, owned_by: { type: "string" },
      kind: { type: "string", enum: ["seedream-3", "seededit-3", "seedream-4", "drawing", "portrait"] }, aliases: { type: "array", items: { type: "string" } },
      lifecycle: { type: "object", properties: { state: { type: "string", enum: ["live", "deprecated", "retired"] }, deprecated_at: { type: "string" }, sunset: { type: "string" }, replacement: { type: "string" }, served_by: { type: "string" } } },
      capabilities: {
        type: "object",
        properties: {
          sizes: { type: "object", properties: { keywords: { type: "array", items: { type: "string" } }, min_pixels: { type: "integer" }, max_pixels: { type: ["integer", "null"] }, min_ratio: { type: "number" }, max_ratio: { type: "number" }, default: { type: "string" } } },
          max_reference_images: { type: "integer" }, group_generation: { type: "boolean" }, max_group_images: { type: "integer" }, stream: { type: "boolean" },
          optimize_prompt_modes: { type: "array", items: { type: "string" } }, output_formats: { type: "array", items: { type: "string" } }, tools: { type: "array", items: { type: "string" } },
        },
      },
      price: { type: "object", properties: { per_image: { type: "number" }, currency: { type: "string" } } },
      unconfirmed: { type: "array", items: { type: "string" } },
    },
  },
  ModelList: { type: "object", properties: { object: { const: "list" }, data: { type: "array", items: { $ref: "#/components/schemas/Model" } } } },
  UsageReport: {
    type: "object", required: ["object", "since", "until", "group_by", "currency", "data", "totals"],
    properties: {
      object: { const: "usage" }, since: { type: "string" }, until: { type: "string" }, group_by: { type: "array", items: { type: "string", enum: ["key", "model", "day"] } }, currency: { type: "string" },
      data: { type: "array", items: { type: "object", properties: { key_id: { type: "string" }, key_name: { type: "string" }, model: { type: "string" }, day: { type: "string" }, requests: { type: "integer" }, charged_requests: { type: "integer" }, images: { type: "integer" }, output_tokens: { type: "integer" }, cost: { type: "number" } } } },
      totals: { type: "object", properties: { requests: { type: "integer" }, charged_requests: { type: "integer" }, images: { type: "integer" }, output_tokens: { type: "integer" }, cost: { type: "number" } } },
    },
  },
  RecentRequests: {
    type: "object", required: ["object", "currency", "data"],
    properties: {
      object: { const: "list" }, currency: { type: "string" },
      data: {
        type: "array",
        items: {
          type: "object",
          properties: {
            id: { type: "string" }, created_at: { type: "string" }, key_id: { type: "string" }, key_name: { type: "string" }, model: { type: "string" }, served_model: { type: ["string", "null"] },
            endpoint: { type: "string" }, provider: { type: ["string", "null"] }, state: { type: "string", enum: ["reserved", "settled"] }, status: { type: ["integer", "null"] },
            images: { type: "integer" }, latency_ms: { type: ["integer", "null"] }, cost: { type: "number" }, error_code: { type: ["string", "null"] },
          },
        },
      },
    },
  },
  Key: {
    type: "object",
    properties: {
      id: { type: "string" }, name: { type: "string" }, prefix: { type: "string" }, role: { type: "string", enum: ["user", "admin"] }, status: { type: "string", enum: ["active", "disabled", "expired"] },
      created_at: { type: ["string", "null"] }, disabled_at: { type: ["string", "null"] }, expires_at: { type: ["string", "null"] }, allowed_models: { type: ["array", "null"], items: { type: "string" } },
      rpm_limit: { type: ["integer", "null"] }, concurrency_limit: { type: ["integer", "null"] }, daily_image_quota: { type: ["integer", "null"] }, total_image_quota: { type: ["integer", "null"] },
      daily_spend_limit: { type: ["number", "null"] }, total_spend_limit: { type: ["number", "null"] }, webhook_url: { type: ["string", "null"] }, failed_images: { enum: ["inline", "omit"] }, currency: { type: "string" },
      usage: { type: "object", properties: { images_today: { type: "integer" }, images_total: { type: "integer" }, spend_today: { type: "number" }, spend_total: { type: "number" } } },
    },
  },
  KeyCreated: { type: "object", properties: { key: { $ref: "#/components/schemas/Key" }, secret: { type: "string", description: "shown only in this answer" } } },
};

const json = (value: unknown) => ({ required: true, content: { "application/json": { schema: value } } });
const ok = (value: unknown) => ({ "200": { description: "Success", content: { "application/json": { schema: value } } }, ...accepted, ...errors });
/** A JSON answer of a non-generation endpoint, with the authentication errors. */
const okJson = (ref: string, extra: Record<string, unknown> = {}) => ({ "200": { description: "Success", content: { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } } }, ...authErrors, ...extra });
/** A 200 that is JSON, or server-sent events with `stream: true` (LIVE-MODELS.md §2.4). */
const okOrStreamed = (value: unknown, events: string) => ({
  "200": {
    description: "Success; with stream: true, server-sent events",
    content: { "application/json": { schema: value }, "text/event-stream": { schema: { type: "string", description: events } } },
  },
  ...accepted,
  ...errors,
});

/** `?async=true`: 202 {task_id} at once, the result at /async_result (CONTRACT.md §1). */
const asyncParameter = { name: "async", in: "query", schema: { type: "string", enum: ["true", "false"], default: "false" }, description: "true: answer 202 {task_id} at once; fetch the result at /async_result" };

const keyId = { name: "id", in: "path", required: true, schema: { type: "string" }, description: "the key's id, a unique start of its id or prefix, or its name" };

/** A query schema's fields as OpenAPI query parameters (all optional), from the schema that validates them. */
const queryParameters = (query: z.ZodType) =>
  Object.entries((schema(query) as { properties: Record<string, Record<string, unknown>> }).properties).map(([name, property]) => ({ name, in: "query", required: false, schema: property }));
const usageParameters = queryParameters(usageQuery);

const asyncResult = (summary: string) => ({
  get: {
    summary,
    parameters: [{ name: "task_id", in: "query", required: true, schema: { type: "string" } }],
    responses: { "200": { description: "Pending, or the synchronous status and body", content: { "application/json": { schema: { $ref: "#/components/schemas/TaskResult" } } } }, "404": error("No such task for this key (-10010)"), ...authErrors },
  },
});

export function buildOpenApi(serverUrl: string): Record<string, unknown> {
  const arkImagesOperation = {
    summary: "Seedream 4.0/4.5/5.0/5.0-pro/5.0-flash, Seedream 3.0, SeedEdit 3.0 (302.AI path). What each 4.x/5.x model accepts: GET /v1/models/{id} capabilities",
    parameters: [asyncParameter],
    requestBody: json({ oneOf: [{ $ref: "#/components/schemas/Seedream4Request" }, { $ref: "#/components/schemas/SeedreamRequest" }, { $ref: "#/components/schemas/SeededitRequest" }] }),
    responses: okOrStreamed({ $ref: "#/components/schemas/ArkResponse" }, "Ark's events: image_generation.partial_succeeded / partial_failed / completed, then data: [DONE]"),
  };
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
        ...answerSchemas,
      },
    },
    paths: {
      "/doubao/images/generations": { post: arkImagesOperation },
      // Ark's own path: the same operation as the 302.AI path.
      "/api/v3/images/generations": { post: { ...arkImagesOperation, summary: "The same as /doubao/images/generations, on Ark's own path: a client whose base URL is https://ark…/api/v3 works with only the host changed" } },
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
      "/v1/models": { get: { summary: "Models that can be served now (and that the key may use), with kind, aliases, lifecycle, capabilities and price", responses: okJson("ModelList") } },
      "/v1/models/{id}": {
        get: {
          summary: "One model of the table (by id or alias), whatever its lifecycle",
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
          responses: okJson("Model", { "404": error("Not in the table (-10010)") }),
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
      "/ready": { get: { summary: "Readiness: some upstream configured and not behind an open breaker", security: [], responses: { "200": { description: "{ready: true, providers}" }, "503": { description: "{ready: false, providers, reason}" } } } },
      "/async_result": asyncResult("The result of a request made with ?async=true: {status_code: 202, err: \"result pending\"} until done, then {status_code, content_type, data, err}"),
      "/v1/async_result": asyncResult("The same as /async_result"),
      "/v1/tasks/{id}": {
        get: {
          summary: "An async task: status (queued, running, succeeded, failed), created_at, finished_at, and the answer or the error",
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
          responses: { "200": { description: "The task" }, "404": error("No such task for this key (-10010)"), ...authErrors },
        },
      },
      "/v1/webhook_secret": { get: { summary: "The calling key's webhook signing secret (whsec_…), for ?webhook_url= callbacks", responses: { "200": { description: "{secret}" }, ...authErrors } } },
      "/v1/usage": { get: { summary: "The calling key's usage", parameters: usageParameters.filter((parameter) => parameter.name !== "key"), responses: okJson("UsageReport", { "400": error("A bad day or group_by") }) } },
      "/admin/keys": {
        get: { summary: "All keys (admin)", responses: { "200": { description: "{object: list, data: Key[]}", content: { "application/json": { schema: { type: "object", properties: { object: { const: "list" }, data: { type: "array", items: { $ref: "#/components/schemas/Key" } } } } } } }, ...authErrors } },
        post: {
          summary: "Create a key (admin); the secret is only in this answer", requestBody: json({ $ref: "#/components/schemas/KeySettings" }),
          responses: { "201": { description: "{key, secret}", content: { "application/json": { schema: { $ref: "#/components/schemas/KeyCreated" } } } }, "400": error("A bad setting"), "409": error("Another key has this name"), ...authErrors },
        },
      },
      "/admin/keys/{id}": {
        parameters: [keyId],
        get: { summary: "One key (admin): by id, a unique start of its id or prefix, or its name", responses: okJson("Key", { "404": error("Unknown key (-10010)"), "409": error("The reference matches several keys; they are listed") }) },
        patch: { summary: "Change a key's settings (admin)", requestBody: json({ $ref: "#/components/schemas/KeySettings" }), responses: okJson("Key", { "400": error("A bad setting"), "404": error("Unknown key"), "409": error("Another key has this name") }) },
        delete: { summary: "Delete a key (admin); its usage stays", responses: { "200": { description: "{id, deleted: true}" }, "404": error("Unknown key"), ...authErrors } },
      },
      "/admin/keys/{id}/disable": { parameters: [keyId], post: { summary: "Disable a key (admin)", responses: okJson("Key", { "404": error("Unknown key") }) } },
      "/admin/keys/{id}/enable": { parameters: [keyId], post: { summary: "Enable a key (admin)", responses: okJson("Key", { "404": error("Unknown key") }) } },
      "/admin/requests": {
        get: {
          summary: "The newest requests, with status, provider, latency and cost (admin)",
          parameters: queryParameters(recentRequestsQuery),
          responses: okJson("RecentRequests", { "400": error("A bad limit") }),
        },
      },
      "/admin/usage": { get: { summary: "Usage per key, model and day (admin)", parameters: usageParameters, responses: okJson("UsageReport", { "400": error("A bad day or group_by") }) } },
    },
  };
}
