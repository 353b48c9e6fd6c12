/**
 * What a model kind does with a request, and the one table that finds a kind's handler: a kind is one file here
 * (parse its fields, load its inputs, plan its calls, translate a retired model's request for its replacement), and
 * adding one means that file, its rows of the model table and its tests. The routes only parse the transport and
 * hand the plan to `serve` (pipeline/serve.ts).
 */
import type { Dialect } from "../../api/route-config.js";
import type { GenerationPlan } from "../../pipeline/plan.js";
import type { ServeTarget } from "../../pipeline/serve.js";
import type { ModelEntry, Seedream4Entry } from "../types.js";
import { drawing } from "./drawing.js";
import { general3 } from "./general-3.js";
import { portrait } from "./portrait.js";
import { seededit3 } from "./seededit-3.js";
import { seedream3 } from "./seedream-3.js";
import { seedream4 } from "./seedream-4.js";

/** A request being planned: what `serve` needs, and the dialect its route speaks. */
export interface KindTarget extends ServeTarget {
  dialect: Dialect;
}

/** An OpenAI edit's multipart form: its text fields and its image files, in order. */
export interface EditForm {
  fields: Record<string, string>;
  files: Buffer[];
}

/** A kind's handling of the Ark-shaped image routes, for an entry of its kind. */
export interface ImagesKind<Entry extends ModelEntry> {
  /** A JSON body on `/doubao/images/generations`, `/api/v3/images/generations` or `/v1/images/generations`. */
  plan(target: KindTarget, entry: Entry, body: Record<string, unknown>): Promise<GenerationPlan>;
  /** The same request for a retired model of this kind: in this kind's contract, made by `replacement`. */
  translate(target: KindTarget, entry: Entry, replacement: Seedream4Entry, body: Record<string, unknown>): Promise<GenerationPlan>;
  /** `/v1/images/edits` (a retired model's replacement is found by the kind, when its inputs are checked). */
  edit?(target: KindTarget, entry: Entry, form: EditForm): Promise<GenerationPlan>;
}

/** A kind's handler with its entry bound: what a route calls. */
export interface BoundImagesKind {
  plan(target: KindTarget, body: Record<string, unknown>): Promise<GenerationPlan>;
  translate(target: KindTarget, replacement: Seedream4Entry, body: Record<string, unknown>): Promise<GenerationPlan>;
  edit: ((target: KindTarget, form: EditForm) => Promise<GenerationPlan>) | undefined;
}

function bound<Entry extends ModelEntry>(kind: ImagesKind<Entry>, entry: Entry): BoundImagesKind {
  const edit = kind.edit;
  return {
    plan: (target, body) => kind.plan(target, entry, body),
    translate: (target, replacement, body) => kind.translate(target, entry, replacement, body),
    edit: edit ? (target, form) => edit(target, entry, form) : undefined,
  };
}

/** The handler of an entry's kind on the image routes; undefined for a kind they do not serve (drawing, portrait). */
export function imagesKindOf(entry: ModelEntry): BoundImagesKind | undefined {
  switch (entry.kind) {
    case "seedream-3":
      return bound(seedream3, entry);
    case "seededit-3":
      return bound(seededit3, entry);
    case "seedream-4":
      return bound(seedream4, entry);
    case "drawing":
    case "general-3":
    case "portrait":
      return undefined;
  }
}

/** A kind served on a Visual route (`/doubao/drawing`, `/doubao/drawing/portrait`): it reads the request's body and query itself, in its contract's order. */
export interface VisualKind {
  /** The route it is served on. */
  route: "/doubao/drawing" | "/doubao/drawing/portrait";
  plan(target: KindTarget): Promise<GenerationPlan>;
}

/**
 * The kind a `/doubao/drawing` request's `model_version` names (its entry's kind), when that kind is served there;
 * else v2.x's, whose schema refuses what is no model of this route.
 */
export function drawingKindOf(entry: ModelEntry | undefined): VisualKind {
  const named = entry && entry.kind in VISUAL_KINDS ? VISUAL_KINDS[entry.kind as keyof typeof VISUAL_KINDS] : undefined;
  return named?.route === "/doubao/drawing" ? named : VISUAL_KINDS.drawing;
}

/** The Visual kinds by the model table's kind; a route serves the one its model names. */
export const VISUAL_KINDS: Readonly<Record<"drawing" | "general-3" | "portrait", VisualKind>> = { drawing, "general-3": general3, portrait };
