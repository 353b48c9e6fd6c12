/** Which provider serves a model: the first configured provider of the model's family. */
import { MODEL_CATALOG, type PublicModelId } from "../api/models.js";
import { noUpstream } from "../errors.js";
import type { Provider } from "./types.js";

const TO_SET = { ark: "ARK_API_KEY", visual: "VOLC_ACCESSKEY and VOLC_SECRETKEY" } as const;

export interface Router {
  providerFor(model: PublicModelId): Provider;
  /** Models that can be served now, for `/v1/models`. */
  servable(): Array<{ id: PublicModelId; created: number; provider: Provider }>;
  providers: readonly Provider[];
}

export function createRouter(providers: readonly Provider[]): Router {
  const forModel = (model: PublicModelId): Provider | undefined => {
    const family = MODEL_CATALOG.find((entry) => entry.id === model)?.family;
    return family ? providers.find((provider) => provider.families.includes(family)) : undefined;
  };
  return {
    providers,
    providerFor(model) {
      const provider = forModel(model);
      if (provider) return provider;
      const family = MODEL_CATALOG.find((entry) => entry.id === model)?.family ?? "ark";
      throw noUpstream(model, TO_SET[family]);
    },
    servable() {
      return MODEL_CATALOG.flatMap((entry) => {
        const provider = forModel(entry.id);
        return provider ? [{ id: entry.id, created: entry.created, provider }] : [];
      });
    },
  };
}
