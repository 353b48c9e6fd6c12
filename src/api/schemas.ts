/** The request schemas live in the SDK package, so that the gateway and its clients share one definition. */
export * from "@doubao-gateway/sdk/schemas";
