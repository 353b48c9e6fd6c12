/**
 * Request ids in Volcengine's style: UTC time to the second, then 16 random upper-case hex digits. The time prefix is
 * formatted once a second and the random digits come from a pool refilled 4 KiB at a time, so an id costs neither a
 * Date formatting nor a call into the system's random source.
 */
import { randomFillSync } from "node:crypto";

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;
let second = -1;
let prefix = "";

export function newRequestId(now = Date.now()): string {
  const at = Math.floor(now / 1000);
  if (at !== second) {
    second = at;
    prefix = new Date(at * 1000).toISOString().replace(/\D/g, "").slice(0, 14);
  }
  if (offset + 8 > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  offset += 8;
  return `${prefix}${pool.toString("hex", offset - 8, offset).toUpperCase()}`;
}
