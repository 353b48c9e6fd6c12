/** Request ids in Volcengine's style: UTC time to the second, then 16 random upper-case hex digits. */
import { randomBytes } from "node:crypto";

export function newRequestId(): string {
  return `${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}${randomBytes(8).toString("hex").toUpperCase()}`;
}
