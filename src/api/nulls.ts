/**
 * Ark's clients send an unset optional field as JSON `null`: Volcengine's Python SDK always sends all 14 fields of
 * its request type, `optimize_prompt_options` and `sequential_image_generation_options` as pydantic dumps with
 * their own unset fields `null` (CLIENTS.md §1), and the openai SDK does the same for OpenAI's fields. Ark reads a
 * `null` as an absent field, so on every Ark-shaped body (the gateway's routes and the emulator) it is one.
 */

/** Deletes every `null` property of `body` and of the plain objects inside it (not array items: `[null]` stays an error). */
export function dropNulls(body: Record<string, unknown>): void {
  for (const name of Object.keys(body)) {
    const value = body[name];
    if (value === null) delete body[name];
    else if (typeof value === "object" && !Array.isArray(value)) dropNulls(value as Record<string, unknown>);
  }
}

/**
 * OpenAI clients send `size: "auto"` (the openai SDK's default), which OpenAI accepts: on `/v1` it is the model's
 * default size (SeedEdit's `adaptive`). A `null` anywhere is an absent field on every route (above).
 */
export function openAiLeniency(body: Record<string, unknown>): void {
  if (body.size === "auto") delete body.size;
}

