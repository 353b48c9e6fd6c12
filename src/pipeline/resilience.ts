/**
 * Retries, backoff, per-provider circuit breakers and fallback: how one upstream call of a request is
 * carried through the ordered providers of its model.
 *
 * - Each attempt has its own timeout (the route's), and all attempts of a request share one deadline. An attempt
 *   gets the request's one signal and its deadline, which the transport enforces (providers/http.ts): no
 *   controller, listener or timer per attempt.
 * - Only `transient` failures are retried on the same provider (providers/upstream-error.ts), after
 *   `base × 2^(n-1)` capped at `max`, jittered to 50–100 %, and never sooner than the upstream's
 *   `Retry-After`. A `Retry-After` longer than `max` is not waited for: the next provider is tried.
 * - `provider` failures (credentials, balance, …) go to the next provider at once; `request` failures
 *   (content refusal, a parameter) end the request — no retry, no fallback.
 * - A breaker per provider opens after `failureThreshold` consecutive failures, lets one probe through
 *   after `cooldownMs`, and closes again on the probe's success.
 * Time comes from an injectable clock, so tests check delays without sleeping.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { GatewayError } from "../errors/errors.js";
import type { Provider } from "../providers/types.js";
import { isTimeout, type CallLimits } from "../providers/http.js";
import { accountsFull, circuitOpen, upstreamTimeout, UpstreamError, type FailureKind } from "../providers/upstream-error.js";
import { memoryLimits, type LimitName, type LimitUse, type SharedLimits } from "../accounts/limits.js";

export interface Clock {
  now(): number;
  /** Resolves after `ms`, rejects when `signal` aborts first. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
};

export interface ResiliencePolicy {
  /** Attempts per provider, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** All attempts and fallbacks of one upstream call. */
  deadlineMs: number;
  failureThreshold: number;
  cooldownMs: number;
  /**
   * How long, at most, a call waits in all when every account that serves its model is at its own limit (then the
   * soonest has room); 0 answers 503 at once.
   */
  limitWaitMs: number;
}

export const DEFAULT_POLICY: ResiliencePolicy = Object.freeze({
  maxAttempts: 3,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  deadlineMs: 180_000,
  failureThreshold: 5,
  cooldownMs: 30_000,
  limitWaitMs: 2_000,
});

/** One provider in a model's ordered list. */
export interface Route {
  provider: Provider;
  /** Per-attempt timeout. */
  timeoutMs: number;
}

export type BreakerState = "closed" | "open" | "half-open";

/** A breaker's own changes, told to the other instances (BreakerSync): opened at a time, or closed by a probe. */
export type BreakerChange = { state: "open"; openedAt: number } | { state: "closed" };

/**
 * Breaker state shared by the gateways (Redis): each tells the others when a provider's breaker opens or closes,
 * and adopts what they tell — so when one instance has seen an upstream fail, the others stop calling it too. The
 * request path never waits on it: changes are sent and received in the background.
 */
export interface BreakerSync {
  publish(provider: string, change: BreakerChange): void;
  /** Calls `apply` with every other instance's change (and, at once, with the breakers open now). */
  subscribe(apply: (provider: string, change: BreakerChange) => void): void;
  close?(): Promise<void>;
}

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  state: BreakerState = "closed";

  constructor(
    private readonly settings: { readonly policy: Pick<ResiliencePolicy, "failureThreshold" | "cooldownMs"> },
    /** Told when this breaker opens, or closes after being open (not of changes adopted from another instance). */
    private readonly onChange?: (change: BreakerChange) => void,
  ) {}

  /** Another instance's breaker for this provider opened at `openedAt`: this one rests until the same time. */
  adoptOpen(openedAt: number): void {
    if (this.state === "open" && this.openedAt >= openedAt) return;
    if (this.probing) return;
    this.state = "open";
    this.openedAt = openedAt;
    this.failures = 0;
  }

  /** Another instance's probe succeeded: the upstream answers again. */
  adoptClosed(): void {
    if (this.probing) return;
    this.state = "closed";
    this.failures = 0;
  }

  /** Whether an attempt may go out now; in half-open, only one probe at a time. */
  tryAcquire(now: number): boolean {
    if (this.state === "closed") return true;
    if (this.state === "open" && now - this.openedAt >= this.settings.policy.cooldownMs) this.state = "half-open";
    if (this.state === "half-open" && !this.probing) {
      this.probing = true;
      return true;
    }
    return false;
  }

  /** Milliseconds until a probe may go out. */
  restingFor(now: number): number {
    return this.state === "open" ? Math.max(0, this.openedAt + this.settings.policy.cooldownMs - now) : 0;
  }

  succeeded(): void {
    const was = this.state;
    this.failures = 0;
    this.probing = false;
    this.state = "closed";
    if (was !== "closed") this.onChange?.({ state: "closed" });
  }

  failed(now: number): void {
    this.failures += 1;
    if (this.state === "half-open" || this.failures >= this.settings.policy.failureThreshold) this.open(now);
    this.probing = false;
  }

  /** Opens at once, whatever the count: the account refused the gateway's credentials, no call of any model can pass. */
  trip(now: number): void {
    this.failures = 0;
    this.probing = false;
    this.open(now);
  }

  private open(now: number): void {
    const was = this.state;
    this.state = "open";
    this.openedAt = now;
    if (was !== "open") this.onChange?.({ state: "open", openedAt: now });
  }

  /** An attempt that ended without telling anything about the upstream (the client went away). */
  released(): void {
    this.probing = false;
  }
}

/** A pino-compatible logger, or nothing. */
export interface AttemptLogger {
  warn(object: Record<string, unknown>, message: string): void;
}

export interface Outcome<T> {
  value: T;
  route: Route;
}

/** Told of every attempt's outcome (metrics). */
export type AttemptObserver = (attempt: { provider: string; outcome: "ok" | FailureKind; code: string | undefined; breaker: BreakerState }) => void;

export interface ResilienceOptions {
  /** Told of every attempt's outcome and the provider's breaker state after it. */
  observer?: AttemptObserver;
  policy?: Partial<ResiliencePolicy>;
  clock?: Clock;
  /** [0, 1); injectable for tests of the jitter's bounds. */
  random?: () => number;
  /** Breaker state shared with the other gateways (REDIS_URL); each instance's own when absent. */
  sync?: BreakerSync;
  /** Where accounts' rate and concurrency limits are counted (Redis when REDIS_URL is set, else this process). */
  accountLimits?: SharedLimits;
}

/** What one upstream call of a request brings besides its routes and attempt. */
export interface RunOptions {
  /** The request's: aborts every attempt and wait when the client goes away. */
  signal: AbortSignal;
  log?: AttemptLogger | undefined;
  /** Runs before every attempt and may end the request (a key revoked meanwhile); not the upstream's fault. */
  guard?: (() => Promise<void>) | undefined;
  /** The most images the call may make, counted against an account's images-per-minute limit; default 1. */
  images?: number;
}

/** An account's room for one call (released when the attempt ends), or which of its limits is full and for how long. */
type AccountSlot = { release: () => unknown } | { fullForMs: number; limit: string };
const ACCOUNT_LIMIT_NAMES: Readonly<Record<LimitName, string>> = { requests: "requests-per-minute", images: "images-per-minute", concurrency: "concurrency" };
/** The slot of an account with no limits (or none that can be counted now): nothing to release. */
const NO_SLOT: AccountSlot = { release: () => undefined };

export class Resilience {
  private current: ResiliencePolicy;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly observer: AttemptObserver | undefined;
  private readonly breakers = new Map<string, CircuitBreaker>();
  /** Accounts resting after a rate limit (429) while another account of their protocol could serve: until when. */
  private readonly resting = new Map<string, number>();
  private readonly accountLimits: SharedLimits;

  constructor(options: ResilienceOptions = {}) {
    this.current = Object.freeze({ ...DEFAULT_POLICY, ...options.policy });
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.observer = options.observer;
    this.accountLimits = options.accountLimits ?? memoryLimits();
    this.sync = options.sync;
    this.sync?.subscribe((provider, change) => {
      if (change.state === "closed") return this.breaker(provider).adoptClosed();
      // An opening whose cooldown is already over (read at start from an old record) says nothing about now.
      if (this.clock.now() - change.openedAt < this.policy.cooldownMs) this.breaker(provider).adoptOpen(change.openedAt);
    });
  }

  private readonly sync: BreakerSync | undefined;

  get policy(): ResiliencePolicy {
    return this.current;
  }

  /** The settings of a reloaded GATEWAY_CONFIG: calls from now on, and every breaker, follow them. */
  setPolicy(policy: Partial<ResiliencePolicy>): void {
    this.current = Object.freeze({ ...DEFAULT_POLICY, ...policy });
  }

  breaker(providerId: string): CircuitBreaker {
    let breaker = this.breakers.get(providerId);
    if (!breaker) {
      const sync = this.sync;
      // The breaker reads the thresholds through this instance, so that a reload reaches the breakers already made.
      breaker = new CircuitBreaker(this, sync ? (change) => sync.publish(providerId, change) : undefined);
      this.breakers.set(providerId, breaker);
    }
    return breaker;
  }

  /** The delay before attempt `attempt + 1`: exponential, capped, jittered to 50–100 %. */
  backoff(attempt: number): number {
    const full = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(full * (0.5 + 0.5 * this.random()));
  }

  /** What of an account's limits is in use now (null without limits, or while they cannot be read). */
  async accountUse(provider: Provider): Promise<LimitUse | null> {
    if (!provider.limits) return null;
    return this.accountLimits.use(`account:${provider.id}`, this.clock.now()).catch(() => null);
  }

  /**
   * Takes an account's room for one call of `images` images under all its limits at once (requests and images per
   * minute, concurrency; one round trip), or says which is full and for how long. Limits that cannot be counted (Redis
   * away) do not stop a call: the account's own 429 still would, and moves it on.
   */
  private async enterAccount(provider: Provider, images: number): Promise<AccountSlot> {
    const limits = provider.limits;
    if (!limits) return NO_SLOT;
    try {
      const room = await this.accountLimits.admit(`account:${provider.id}`, {
        ...(limits.rpm !== undefined ? { requests: limits.rpm } : {}),
        ...(limits.ipm !== undefined ? { images: { limit: limits.ipm, count: Math.min(images, limits.ipm) } } : {}),
        ...(limits.concurrency !== undefined ? { concurrency: limits.concurrency } : {}),
      }, this.clock.now(), { lateRelease: true });
      return room.ok ? { release: room.release } : { fullForMs: room.retryAfterMs, limit: ACCOUNT_LIMIT_NAMES[room.limit] };
    } catch {
      return NO_SLOT;
    }
  }

  /**
   * Runs `attempt` on the model's routes in order until one succeeds, each with the request's `signal` and the
   * attempt's deadline (real time: the transport's timers are). Throws the failure that ends the request: a `request`
   * failure at once, else the last failure, or a 503 when every breaker was open.
   */
  async run<T>(model: string, routes: readonly Route[], attempt: (route: Route, limits: Required<CallLimits>) => Promise<T>, options: RunOptions): Promise<Outcome<T>> {
    const { signal, log, guard, images = 1 } = options;
    const deadline = this.clock.now() + this.policy.deadlineMs;
    let last: GatewayError | undefined;
    let waitedMs = 0;
    for (;;) {
      // The soonest an account passed over at its own limit has room again, when every route was.
      let fullForMs: number | undefined;
      for (const [index, route] of routes.entries()) {
        const id = route.provider.id;
        const breaker = this.breaker(id);
        // An account resting after its 429 is passed over while a route after it remains (it is tried when none does).
        if ((this.resting.get(id) ?? 0) > this.clock.now() && index < routes.length - 1) continue;
        for (let number = 1; ; number += 1) {
          const remaining = deadline - this.clock.now();
          if (remaining <= 0) throw last ?? upstreamTimeout(route.provider.label);
          await guard?.();
          // The breaker first: an account it keeps out uses none of its rate budget.
          if (!breaker.tryAcquire(this.clock.now())) break;
          // An account without limits (the usual case) costs the attempt nothing here.
          const slot = route.provider.limits ? await this.enterAccount(route.provider, images) : NO_SLOT;
          if ("fullForMs" in slot) {
            breaker.released();
            fullForMs = Math.min(fullForMs ?? Number.POSITIVE_INFINITY, slot.fullForMs);
            log?.warn({ provider: id, model, limit: slot.limit, next: index < routes.length - 1 ? "another account" : "none" }, `account ${id} is at its ${slot.limit} limit; not sent`);
            break;
          }
          try {
            const attempted = attempt(route, { signal, deadline: Date.now() + Math.min(route.timeoutMs, remaining) });
            const value = await (slot === NO_SLOT ? attempted : attempted.finally(() => slot.release()));
            breaker.succeeded();
            this.observer?.({ provider: id, outcome: "ok", code: undefined, breaker: breaker.state });
            return { value, route };
          } catch (thrown) {
            if (signal.aborted) {
              breaker.released();
              throw thrown;
            }
            const error = thrown instanceof GatewayError ? thrown : upstreamTimeoutOr(thrown, route.provider.label);
            const kind = error instanceof UpstreamError ? error.kind : "request";
            if (kind === "request") {
              breaker.succeeded();
              this.observer?.({ provider: id, outcome: kind, code: error.code, breaker: breaker.state });
              // An output refused (not the request): another attempt makes another image, within the attempts and the deadline.
              const again = error instanceof UpstreamError && error.retrySame && number < this.policy.maxAttempts;
              const delayMs = this.backoff(number);
              if (!again || this.clock.now() + delayMs >= deadline) throw error;
              log?.warn({ provider: id, model, attempt: number, status: error.status, code: error.code, kind, retryInMs: delayMs }, `upstream refused the image it made; asking again: ${error.message}`);
              await this.clock.sleep(delayMs, signal);
              continue;
            }
            // An account that refuses the gateway (credentials, balance: 401, 402, 403) refuses every call: out of rotation
            // at once, until a probe after the cooldown.
            const refusedAccount = kind === "provider" && error instanceof UpstreamError && ([401, 402, 403].includes(error.upstreamStatus ?? 0) || error.code === "AuthenticationError");
            if (refusedAccount) {
              breaker.trip(this.clock.now());
              log?.warn(
                { provider: id, model, status: error.status, code: error.code, kind, restingMs: this.policy.cooldownMs },
                `upstream account ${id} refused the gateway (${error.code}); out of rotation for ${Math.round(this.policy.cooldownMs / 1000)} s, then one probe. ${error.message}`,
              );
            } else breaker.failed(this.clock.now());
            this.observer?.({ provider: id, outcome: kind, code: error.code, breaker: breaker.state });
            last = error;
            const retryAfterMs = error instanceof UpstreamError && error.upstreamRetryAfter !== undefined ? error.upstreamRetryAfter * 1000 : 0;
            // An account at its rate limit while another account of the same protocol comes later: the call moves there at
            // once, and this account rests for its Retry-After (a second without one) before it is chosen again.
            const sibling = routes.slice(index + 1).some((other) => other.provider.protocol === route.provider.protocol);
            if (kind === "transient" && error instanceof UpstreamError && error.upstreamStatus === 429 && sibling) {
              this.resting.set(id, this.clock.now() + Math.max(retryAfterMs, 1_000));
              log?.warn({ provider: id, model, attempt: number, status: error.status, code: error.code, kind, next: "another account", restingMs: Math.max(retryAfterMs, 1_000) }, `upstream attempt failed: ${error.message}`);
              break;
            }
            const delayMs = Math.max(this.backoff(number), retryAfterMs);
            const retry =
              kind === "transient" && number < this.policy.maxAttempts && retryAfterMs <= this.policy.maxDelayMs &&
              this.clock.now() + delayMs < deadline && breaker.state === "closed";
            log?.warn(
              { provider: id, model, attempt: number, status: error.status, code: error.code, kind, ...(retry ? { retryInMs: delayMs } : { next: "fallback" }) },
              `upstream attempt failed: ${error.message}`,
            );
            if (!retry) break;
            await this.clock.sleep(delayMs, signal);
          }
        }
      }
      if (last) throw last;
      if (fullForMs === undefined) break;
      // Every account that could take the call is at its own limit: it waits for the soonest to have room when that is
      // within the bound (limitWaitMs, across all its waits) and the deadline, else the client hears when to retry.
      const accounts = routes.map((route) => route.provider.id);
      if (waitedMs + fullForMs > this.policy.limitWaitMs || this.clock.now() + fullForMs >= deadline) throw accountsFull(model, accounts, fullForMs / 1000, waitedMs);
      log?.warn({ model, accounts, waitMs: fullForMs, waitedMs }, `every account serving ${model} is at its limit; the call waits ${fullForMs} ms for room`);
      await this.clock.sleep(fullForMs, signal);
      waitedMs += fullForMs;
    }
    const resting = routes.map((route) => this.breaker(route.provider.id).restingFor(this.clock.now()));
    throw circuitOpen(model, routes.map((route) => route.provider.id), Math.max(1, Math.min(...resting) / 1000));
  }
}

/** A non-gateway error out of an attempt: a timeout if it was one, else a programming error (rethrown). */
function upstreamTimeoutOr(thrown: unknown, provider: string): GatewayError {
  if (isTimeout(thrown) || (thrown as Error | undefined)?.name === "AbortError") return upstreamTimeout(provider);
  throw thrown;
}
