/**
 * undici, loaded by the first call that opens a connection: its HTTP parser and pools take ~20 MB resident, which an
 * idle gateway (and every CLI command that makes no request) does not pay. The three places that may use it import
 * it from here (eslint.config.js).
 */
import type * as Undici from "undici";

let loaded: Promise<typeof Undici> | undefined;

export const loadUndici = (): Promise<typeof Undici> => (loaded ??= import("undici"));
