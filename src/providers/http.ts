/** The one place providers send HTTP: JSON in, parsed JSON out, network failures typed. */
import { upstreamMalformed, upstreamTimeout, upstreamUnreachable } from "./upstream-error.js";

export type FetchFunction = typeof globalThis.fetch;

export interface UpstreamResponse {
  status: number;
  json: unknown;
  retryAfter: number | undefined;
}

export async function postJson(
  fetchFunction: FetchFunction,
  provider: string,
  url: string,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<UpstreamResponse> {
  let response: Response;
  let text: string;
  try {
    response = await fetchFunction(url, { method: "POST", headers, body, signal });
    text = await response.text();
  } catch (error) {
    if (signal.aborted) {
      if ((signal.reason as Error | undefined)?.name === "TimeoutError") throw upstreamTimeout(provider);
      throw signal.reason ?? error;
    }
    const cause = (error as { cause?: { code?: string } }).cause;
    throw upstreamUnreachable(provider, cause?.code ?? "network error");
  }
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    if (response.ok) throw upstreamMalformed(provider, `HTTP ${response.status}, body is not JSON`);
  }
  const retryAfterHeader = Number(response.headers.get("retry-after"));
  return { status: response.status, json, retryAfter: Number.isFinite(retryAfterHeader) && retryAfterHeader > 0 ? retryAfterHeader : undefined };
}
