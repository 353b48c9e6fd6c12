/**
 * The operator console (admin keys): keys (create with limits, disable, enable, delete; the secret shown once),
 * usage by day, model and key as charts, the recent requests, the upstream accounts (switched off and on, their
 * limits in use, breakers and last failures), readiness, the models and
 * their lifecycle. Everything through the SDK's `admin`, `health` and `models` calls.
 */
import type { KeyCreated, KeyView, ModelObject, Readiness, RecentRequests, UpstreamAccountView, UsageReport } from "@doubao-gateway/sdk";
import { firstProblem, keySettings } from "@doubao-gateway/sdk/schemas";
import { useCallback, useEffect, useState } from "preact/hooks";
import { client, describeError, type ShownError } from "./api.js";
import { BarChart } from "./charts.js";
import { copyText } from "./clipboard.js";
import { Check, Field, NumberField, Select } from "./fields.js";
import { t, type MessageKey } from "./i18n.js";

const isoDay = (time: number) => new Date(time).toISOString().slice(0, 10);

interface Data {
  keys?: KeyView[];
  usage?: UsageReport;
  requests?: RecentRequests;
  ready?: Readiness;
  upstreams?: UpstreamAccountView[];
}

export function Console({ models }: { models: ModelObject[] | undefined }) {
  const [data, setData] = useState<Data>({});
  const [error, setError] = useState<ShownError | undefined>();
  const [range, setRange] = useState({ since: isoDay(Date.now() - 29 * 86_400_000), until: isoDay(Date.now() + 86_400_000) });
  const [created, setCreated] = useState<KeyCreated | undefined>();

  const load = useCallback(async () => {
    const sdk = client();
    try {
      const [keys, usage, requests, ready, upstreams] = await Promise.all([
        sdk.admin.keys.list(), sdk.admin.usage({ since: range.since, until: range.until, group_by: "key,model,day" }), sdk.admin.requests({ limit: 50 }), sdk.health.ready(),
        sdk.admin.upstreams.list(),
      ]);
      setData({ keys, usage, requests, ready, upstreams });
      setError(undefined);
    } catch (failure) {
      setError(describeError(failure));
    }
  }, [range.since, range.until]);
  useEffect(() => {
    void load();
  }, [load]);

  const act = async (action: () => Promise<unknown>) => {
    try {
      await action();
      await load();
    } catch (failure) {
      setError(describeError(failure));
    }
  };

  return (
    <div class="console">
      <div class="console-head">
        <h2>{t("console.title")}</h2>
        <button type="button" class="secondary" onClick={() => void load()}>{t("console.refresh")}</button>
      </div>
      {error && (
        <div class="error" role="alert">
          <p>{error.text}</p>
          {error.status === 403 && <p>{t("console.needAdmin")}</p>}
        </div>
      )}
      {created && (
        <div class="secret panel" role="alert">
          <p>{t("console.secret")}</p>
          <code class="secret-value">{created.secret}</code>
          <div class="row">
            <button type="button" class="primary" onClick={() => void copyText(created.secret)}>{t("console.secret.copy")}</button>
            <button type="button" class="secondary" onClick={() => setCreated(undefined)}>{t("console.secret.done")}</button>
          </div>
        </div>
      )}
      <section class="panel" aria-labelledby="keys-title">
        <h3 id="keys-title">{t("console.keys")}</h3>
        <KeysTable keys={data.keys ?? []} onAct={act} />
        <CreateKey models={models ?? []} onCreated={async (result) => {
          setCreated(result);
          await load();
        }} />
      </section>
      <section class="panel" aria-labelledby="usage-title">
        <h3 id="usage-title">{t("console.usage")}</h3>
        <div class="pair">
          <Field label={t("console.usage.since")}>{(id) => <input id={id} type="date" value={range.since} onChange={(event) => setRange({ ...range, since: (event.target as HTMLInputElement).value })} />}</Field>
          <Field label={t("console.usage.until")}>{(id) => <input id={id} type="date" value={range.until} onChange={(event) => setRange({ ...range, until: (event.target as HTMLInputElement).value })} />}</Field>
        </div>
        {data.usage && <UsageCharts usage={data.usage} />}
      </section>
      <section class="panel" aria-labelledby="requests-title">
        <h3 id="requests-title">{t("console.requests")}</h3>
        <RequestsTable requests={data.requests} />
      </section>
      <section class="panel" aria-labelledby="upstreams-title">
        <h3 id="upstreams-title">{t("console.upstreams")}</h3>
        <p class="muted">{t("console.upstreams.help")}</p>
        <UpstreamsTable upstreams={data.upstreams} onAct={act} />
      </section>
      <div class="two">
        <section class="panel" aria-labelledby="health-title">
          <h3 id="health-title">{t("console.health")}</h3>
          <Health ready={data.ready} />
        </section>
        <section class="panel" aria-labelledby="models-title">
          <h3 id="models-title">{t("console.models")}</h3>
          <ModelsTable models={models ?? []} />
        </section>
      </div>
    </div>
  );
}

const limitsOf = (key: KeyView) => {
  const parts = [
    key.rpm_limit !== null ? `${key.rpm_limit} rpm` : "", key.concurrency_limit !== null ? `${key.concurrency_limit} at a time` : "",
    key.daily_image_quota !== null ? `${key.daily_image_quota} img/day` : "", key.total_image_quota !== null ? `${key.total_image_quota} img` : "",
    key.daily_spend_limit !== null ? `${key.daily_spend_limit} ${key.currency}/day` : "", key.total_spend_limit !== null ? `${key.total_spend_limit} ${key.currency}` : "",
    key.allowed_models ? key.allowed_models.join(", ") : "", key.expires_at ? `→ ${key.expires_at.slice(0, 10)}` : "",
    key.failed_images === "omit" ? t("console.keys.omitsFailed") : "",
  ].filter(Boolean);
  return parts.length ? parts.join(" · ") : t("console.keys.none");
};

function KeysTable({ keys, onAct }: { keys: KeyView[]; onAct: (action: () => Promise<unknown>) => Promise<void> }) {
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr><th scope="col">{t("console.keys.name")}</th><th scope="col">{t("console.keys.prefix")}</th><th scope="col">{t("console.keys.role")}</th><th scope="col">{t("console.keys.state")}</th><th scope="col">{t("console.keys.limits")}</th><th scope="col">{t("console.keys.used")}</th><th scope="col">{t("console.keys.actions")}</th></tr>
        </thead>
        <tbody>
          {keys.map((key) => (
            <tr key={key.id} data-key={key.name}>
              <td>{key.name}</td>
              <td><code>{key.prefix}</code></td>
              <td>{key.role}</td>
              <td><span class={`badge ${key.status}`}>{t((`state.${key.status === "unknown" ? "revoked" : key.status}`) as MessageKey)}</span></td>
              <td class="small">{limitsOf(key)}</td>
              <td class="small">{key.usage.images_total} · {key.usage.spend_total} {key.currency}</td>
              <td class="actions">
                {key.status === "disabled"
                  ? <button type="button" class="secondary small" aria-label={t("console.keys.enable", { name: key.name })} onClick={() => void onAct(() => client().admin.keys.enable(key.id))}>{t("console.keys.enable", { name: "" }).trim()}</button>
                  : <button type="button" class="secondary small" aria-label={t("console.keys.disable", { name: key.name })} onClick={() => void onAct(() => client().admin.keys.disable(key.id))}>{t("console.keys.disable", { name: "" }).trim()}</button>}
                <button type="button" class="danger small" aria-label={t("console.keys.delete", { name: key.name })} onClick={() => {
                  if (confirm(t("console.keys.confirmDelete", { name: key.name }))) void onAct(() => client().admin.keys.delete(key.id));
                }}>{t("console.keys.delete", { name: "" }).trim()}</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CreateKey({ models, onCreated }: { models: ModelObject[]; onCreated: (created: KeyCreated) => Promise<void> }) {
  const empty = { name: "", role: "user", failedImages: "inline", rpm: "", concurrency: "", dailyImages: "", totalImages: "", dailySpend: "", expires: "" };
  const [form, setForm] = useState(empty);
  const [allowed, setAllowed] = useState<string[]>([]);
  const [problem, setProblem] = useState<{ field: string; message: string } | undefined>();
  const count = (text: string) => (text.trim() === "" ? undefined : Number(text));
  const submit = async (event: Event) => {
    event.preventDefault();
    const settings = {
      name: form.name, role: form.role as "user" | "admin", failed_images: form.failedImages as "inline" | "omit",
      ...(count(form.rpm) !== undefined ? { rpm_limit: count(form.rpm) } : {}), ...(count(form.concurrency) !== undefined ? { concurrency_limit: count(form.concurrency) } : {}),
      ...(count(form.dailyImages) !== undefined ? { daily_image_quota: count(form.dailyImages) } : {}), ...(count(form.totalImages) !== undefined ? { total_image_quota: count(form.totalImages) } : {}),
      ...(count(form.dailySpend) !== undefined ? { daily_spend_limit: count(form.dailySpend) } : {}),
      ...(form.expires ? { expires_at: new Date(`${form.expires}T00:00:00Z`).toISOString() } : {}),
      ...(allowed.length ? { allowed_models: allowed } : {}),
    };
    const found = firstProblem(keySettings, settings);
    if (found) {
      setProblem(found);
      return;
    }
    try {
      const created = await client().admin.keys.create({ ...settings, name: form.name });
      setProblem(undefined);
      setForm(empty);
      setAllowed([]);
      await onCreated(created);
    } catch (failure) {
      const shown = describeError(failure);
      setProblem({ field: shown.field ?? "body", message: shown.text });
    }
  };
  const set = (name: keyof typeof empty) => (value: string) => setForm({ ...form, [name]: value });
  const errorOf = (...fields: string[]) => (problem && fields.includes(problem.field) ? problem.message : undefined);
  return (
    <details class="create">
      <summary>{t("console.create")}</summary>
      <form class="grid" onSubmit={submit} noValidate aria-label={t("console.create")}>
        <Field label={t("console.create.name")} error={errorOf("name")}>{(id, describedBy) => <input id={id} name="name" value={form.name} required aria-describedby={describedBy || undefined} onInput={(event) => set("name")((event.target as HTMLInputElement).value)} />}</Field>
        <Select name="role" label={t("console.create.role")} value={form.role} options={[{ value: "user", label: "user" }, { value: "admin", label: "admin" }]} onChange={set("role")} />
        <Select name="failed_images" label={t("console.create.failedImages")} value={form.failedImages} onChange={set("failedImages")} options={[
          { value: "inline", label: t("console.create.failedImages.inline") }, { value: "omit", label: t("console.create.failedImages.omit") },
        ]} />
        <NumberField name="rpm_limit" label={t("console.create.rpm")} value={form.rpm} onInput={set("rpm")} error={errorOf("rpm_limit")} />
        <NumberField name="concurrency_limit" label={t("console.create.concurrency")} value={form.concurrency} onInput={set("concurrency")} error={errorOf("concurrency_limit")} />
        <NumberField name="daily_image_quota" label={t("console.create.dailyImages")} value={form.dailyImages} onInput={set("dailyImages")} error={errorOf("daily_image_quota")} />
        <NumberField name="total_image_quota" label={t("console.create.totalImages")} value={form.totalImages} onInput={set("totalImages")} error={errorOf("total_image_quota")} />
        <NumberField name="daily_spend_limit" step="0.01" label={t("console.create.dailySpend")} value={form.dailySpend} onInput={set("dailySpend")} error={errorOf("daily_spend_limit")} />
        <Field label={t("console.create.expires")} error={errorOf("expires_at")}>{(id) => <input id={id} name="expires_at" type="date" value={form.expires} onInput={(event) => set("expires")((event.target as HTMLInputElement).value)} />}</Field>
        <fieldset class="field wide">
          <legend>{t("console.create.models")}</legend>
          <div class="checks">
            {models.map((model) => (
              <Check key={model.id} name="allowed_models" label={model.id} checked={allowed.includes(model.id)} onChange={(checked) => setAllowed(checked ? [...allowed, model.id] : allowed.filter((id) => id !== model.id))} />
            ))}
          </div>
        </fieldset>
        <div class="submit-row wide">
          <button type="submit" class="primary">{t("console.create.submit")}</button>
          {problem && !["name", "rpm_limit", "concurrency_limit", "daily_image_quota", "total_image_quota", "daily_spend_limit", "expires_at"].includes(problem.field) && <p class="field-error" role="alert">{problem.message}</p>}
        </div>
      </form>
    </details>
  );
}

function UsageCharts({ usage }: { usage: UsageReport }) {
  const sum = (dimension: (row: UsageReport["data"][number]) => string | undefined, value: (row: UsageReport["data"][number]) => number) => {
    const totals = new Map<string, number>();
    for (const row of usage.data) {
      const label = dimension(row) ?? "?";
      totals.set(label, (totals.get(label) ?? 0) + value(row));
    }
    return [...totals].map(([label, total]) => ({ label, value: Math.round(total * 1_000_000) / 1_000_000 }));
  };
  if (usage.data.length === 0) return <p class="muted">{t("console.usage.none")}</p>;
  return (
    <>
      <p class="totals">{t("console.usage.totals", { requests: usage.totals.requests, images: usage.totals.images, cost: usage.totals.cost, currency: usage.currency })}</p>
      <div class="charts">
        <BarChart title={t("console.usage.byDay")} data={sum((row) => row.day, (row) => row.images).sort((a, b) => a.label.localeCompare(b.label))} />
        <BarChart title={t("console.usage.byModel", { currency: usage.currency })} data={sum((row) => row.model, (row) => row.cost)} />
        <BarChart title={t("console.usage.byKey")} data={sum((row) => row.key_name, (row) => row.requests)} />
      </div>
    </>
  );
}

function RequestsTable({ requests }: { requests: RecentRequests | undefined }) {
  if (!requests) return null;
  if (requests.data.length === 0) return <p class="muted">{t("console.requests.none")}</p>;
  return (
    <div class="table-wrap">
      <table class="requests">
        <thead>
          <tr><th scope="col">{t("console.requests.time")}</th><th scope="col">{t("console.requests.key")}</th><th scope="col">{t("console.requests.model")}</th><th scope="col">{t("console.requests.status")}</th><th scope="col">{t("console.requests.provider")}</th><th scope="col">{t("console.requests.latency")}</th><th scope="col">{t("console.requests.images")}</th><th scope="col">{t("console.requests.cost")}</th></tr>
        </thead>
        <tbody>
          {requests.data.map((row) => (
            <tr key={row.id} data-request={row.id}>
              <td class="small">{new Date(row.created_at).toLocaleTimeString()}</td>
              <td>{row.key_name}</td>
              <td class="small">{row.model}{row.served_model && row.served_model !== row.model ? ` → ${row.served_model}` : ""}</td>
              <td>{row.state === "reserved" ? t("console.requests.inFlight") : <span class={`badge ${row.status !== null && row.status < 400 ? "active" : "disabled"}`} title={row.error_code ?? undefined}>{row.status}{row.error_code ? ` ${row.error_code}` : ""}</span>}</td>
              <td>{row.provider ?? "–"}</td>
              <td>{row.latency_ms !== null ? `${row.latency_ms} ms` : "–"}</td>
              <td>{row.images}</td>
              <td>{row.cost} {requests.currency}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const accountLimits = (account: UpstreamAccountView) => {
  const { limits, limit_use: use } = account;
  if (!limits) return t("console.upstreams.noLimits");
  const part = (limit: number | undefined, used: number | undefined, unit: string) => (limit === undefined ? "" : `${used ?? "?"}/${limit} ${unit}`);
  return [part(limits.rpm, use?.requests, "req/min"), part(limits.ipm, use?.images, "img/min"), part(limits.concurrency, use?.running, "at a time")].filter(Boolean).join(" · ");
};

function UpstreamsTable({ upstreams, onAct }: { upstreams: UpstreamAccountView[] | undefined; onAct: (action: () => Promise<unknown>) => Promise<void> }) {
  if (!upstreams) return null;
  if (upstreams.length === 0) return <p class="muted">{t("console.upstreams.none")}</p>;
  return (
    <div class="table-wrap">
      <table class="upstreams">
        <thead>
          <tr>
            <th scope="col">{t("console.upstreams.account")}</th><th scope="col">{t("console.upstreams.protocol")}</th><th scope="col">{t("console.upstreams.state")}</th>
            <th scope="col">{t("console.upstreams.weight")}</th><th scope="col">{t("console.upstreams.models")}</th><th scope="col">{t("console.upstreams.limits")}</th>
            <th scope="col">{t("console.upstreams.breaker")}</th><th scope="col">{t("console.upstreams.lastFailure")}</th><th scope="col">{t("console.keys.actions")}</th>
          </tr>
        </thead>
        <tbody>
          {upstreams.map((account) => (
            <tr key={account.id} data-account={account.id}>
              <td><strong>{account.id}</strong><div class="small muted">{account.label} · {account.origin}</div></td>
              <td>{account.protocol}</td>
              <td><span class={`badge ${account.enabled ? "active" : "disabled"}`}>{account.enabled ? t("console.upstreams.on") : t("console.upstreams.off")}</span></td>
              <td>{account.weight} · {account.priority}</td>
              <td class="small">{account.models ? account.models.join(", ") : t("console.upstreams.allModels", { protocol: account.protocol })}</td>
              <td class="small">{accountLimits(account)}</td>
              <td><span class={`dot ${account.breaker === "closed" ? "up" : "down"}`} aria-hidden="true" />
                {account.resting_ms > 0 ? t("console.upstreams.restingFor", { state: account.breaker, seconds: Math.ceil(account.resting_ms / 1000) }) : account.breaker}</td>
              <td class="small">{account.last_failure ? `${account.last_failure.code ?? account.last_failure.outcome} · ${new Date(account.last_failure.at).toLocaleTimeString()}` : t("console.upstreams.noFailure")}</td>
              <td>
                {account.enabled
                  ? <button type="button" class="secondary" aria-label={t("console.upstreams.disableLabel", { id: account.id })} onClick={() => void onAct(() => client().admin.upstreams.disable(account.id))}>{t("console.upstreams.disable")}</button>
                  : <button type="button" class="secondary" aria-label={t("console.upstreams.enableLabel", { id: account.id })} onClick={() => void onAct(() => client().admin.upstreams.enable(account.id))}>{t("console.upstreams.enable")}</button>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Health({ ready }: { ready: Readiness | undefined }) {
  if (!ready) return null;
  return (
    <div>
      <p class={ready.ready ? "ok" : "error"}>{ready.ready ? t("console.health.ready") : t("console.health.notReady", { reason: ready.reason ?? "" })}</p>
      <ul class="providers">
        {ready.providers.map((provider) => (
          <li key={provider.id}>
            <span class={`dot ${provider.usable ? "up" : "down"}`} aria-hidden="true" />
            <strong>{provider.label}</strong> <span class="muted">({provider.id})</span> — {t("console.health.breaker", { state: provider.breaker })}, {provider.usable ? t("console.health.usable") : t("console.health.resting")}
          </li>
        ))}
      </ul>
      {Object.keys(ready.dependencies).length > 0 && (
        <>
          <h4>{t("console.health.dependencies")}</h4>
          <ul class="providers">
            {Object.entries(ready.dependencies).map(([name, state]) => <li key={name}><span class={`dot ${state === "ok" ? "up" : "down"}`} aria-hidden="true" />{name}: {state}</li>)}
          </ul>
        </>
      )}
    </div>
  );
}

function ModelsTable({ models }: { models: ModelObject[] }) {
  return (
    <div class="table-wrap">
      <table>
        <thead><tr><th scope="col">{t("field.model")}</th><th scope="col">{t("console.models.kind")}</th><th scope="col">{t("console.models.state")}</th><th scope="col">{t("console.models.price")}</th></tr></thead>
        <tbody>
          {models.map((model) => (
            <tr key={model.id}>
              <td class="small"><code>{model.id}</code></td>
              <td>{model.kind}</td>
              <td><span class={`badge ${model.lifecycle.state === "live" ? "active" : model.lifecycle.state === "deprecated" ? "expired" : "disabled"}`}>{model.lifecycle.state}</span>
                {model.lifecycle.served_by ? ` ${t("console.models.servedBy", { model: model.lifecycle.served_by })}` : ""}{model.lifecycle.sunset ? ` ${t("console.models.sunset", { date: model.lifecycle.sunset })}` : ""}</td>
              <td>{model.price.per_image} {model.price.currency}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
