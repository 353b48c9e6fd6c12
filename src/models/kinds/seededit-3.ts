/**
 * SeedEdit 3.0 (CONTRACT.md §2.2): one input image, loaded and checked before admission (by URL or data URL on the
 * JSON routes, the one file of an OpenAI edit); retired, made by its replacement at the input's adaptive size.
 */
import { SEEDEDIT_3_I2I } from "../../api/models.js";
import { editsForm, seededitRequest, seededitRequestV1, type SeededitRequest } from "../../api/schemas.js";
import { parseOrThrow } from "../../api/validate.js";
import { invalidParameter } from "../../errors/errors.js";
import { inspectImage } from "../../images/inspect.js";
import { replacementFor } from "../../pipeline/ark-answers.js";
import { loadInputImage } from "../../pipeline/input-image.js";
import type { ContractEntry } from "../types.js";
import { classicPlan, translatedClassicPlan } from "./classic.js";
import type { ImagesKind, KindTarget } from "./kind.js";

type Seededit3Entry = Extract<ContractEntry, { kind: "seededit-3" }>;

async function parsed(target: KindTarget, body: Record<string, unknown>) {
  const input: SeededitRequest = { n: 1, ...parseOrThrow(target.dialect === "openai" ? seededitRequestV1 : seededitRequest, { ...body, model: SEEDEDIT_3_I2I }) };
  return { input, image: await loadInputImage(input.image, { field: "image", checkRatio: true }, target.deps, target.signal) };
}

export const seededit3: ImagesKind<Seededit3Entry> = {
  async plan(target, entry, body) {
    const { input, image } = await parsed(target, body);
    return classicPlan(entry, input, image);
  },
  async translate(target, entry, replacement, body) {
    const { input, image } = await parsed(target, body);
    return translatedClassicPlan(entry, replacement, input, image);
  },
  async edit(target, entry, { fields, files }) {
    if (files.length > 1) throw invalidParameter("image", `Invalid parameter \`image\`: send exactly one image; ${entry.id} edits one image.`);
    const input = parseOrThrow(editsForm, { ...fields, model: SEEDEDIT_3_I2I });
    const image = await inspectImage(files[0] as Buffer, { field: "image", checkRatio: true });
    if (entry.lifecycle.state === "retired") return translatedClassicPlan(entry, replacementFor(target.reply, target.deps, entry), input, image);
    return classicPlan(entry, input, image);
  },
};
