/**
 * @doubao-gateway/sdk — a typed client for doubao-gateway and the 302.AI Doubao image API.
 * Browser-safe; the file helpers for Node are in `@doubao-gateway/sdk/node`.
 */
export { DoubaoClient, type ClientOptions, type DrawingParams, type ImageEditParams, type ImageGenerateParams, type KeySettingsParams, type PortraitParams, type RequestOptions, type TaskEndpoint, type Uploadable, type UsageParams, type WaitOptions } from "./client.js";
export * from "./errors.js";
export * from "./types.js";
export { imageBytes, imagesOf } from "./images.js";
export { capabilityProblem, parsePixelSize, pixelSizeFits, sizeRuleText, type CapabilityProblem, type CapabilityRequest } from "./capabilities.js";
