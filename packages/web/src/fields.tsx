/** Form pieces shared by every form: a labelled field with help and error, and the image picker. */
import type { ComponentChildren } from "preact";
import { useId, useState } from "preact/hooks";
import { t } from "./i18n.js";

export function Field(props: { label: string; help?: string | undefined; error?: string | undefined; children: (id: string, describedBy: string) => ComponentChildren; wide?: boolean }) {
  const id = useId();
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const describedBy = [props.help ? helpId : "", props.error ? errorId : ""].filter(Boolean).join(" ");
  return (
    <div class={`field${props.wide ? " wide" : ""}${props.error ? " invalid" : ""}`}>
      <label for={id}>{props.label}</label>
      {props.children(id, describedBy)}
      {props.help && <p class="help" id={helpId}>{props.help}</p>}
      {props.error && <p class="field-error" id={errorId} role="alert">{props.error}</p>}
    </div>
  );
}

export function Check(props: { label: string; checked: boolean; onChange: (checked: boolean) => void; help?: string | undefined; name?: string }) {
  const id = useId();
  return (
    <div class="field check">
      <input id={id} type="checkbox" name={props.name} checked={props.checked} onChange={(event) => props.onChange((event.target as HTMLInputElement).checked)} aria-describedby={props.help ? `${id}-help` : undefined} />
      <label for={id}>{props.label}</label>
      {props.help && <p class="help" id={`${id}-help`}>{props.help}</p>}
    </div>
  );
}

/** A number input whose text is kept as typed (so "" and "-" can be typed), parsed by the form on submit. */
export function NumberField(props: { label: string; value: string; onInput: (value: string) => void; help?: string | undefined; error?: string | undefined; name: string; step?: string; min?: number; max?: number }) {
  return (
    <Field label={props.label} help={props.help} error={props.error}>
      {(id, describedBy) => (
        <input id={id} name={props.name} type="number" inputMode="decimal" step={props.step ?? "1"} value={props.value} min={props.min} max={props.max}
          aria-invalid={props.error ? "true" : undefined} aria-describedby={describedBy || undefined}
          onInput={(event) => props.onInput((event.target as HTMLInputElement).value)} />
      )}
    </Field>
  );
}

export function Select(props: { label: string; value: string; options: Array<{ value: string; label: string }>; onChange: (value: string) => void; help?: string | undefined; error?: string | undefined; name: string; wide?: boolean }) {
  return (
    <Field label={props.label} help={props.help} error={props.error} wide={props.wide ?? false}>
      {(id, describedBy) => (
        <select id={id} name={props.name} value={props.value} aria-describedby={describedBy || undefined} aria-invalid={props.error ? "true" : undefined}
          onChange={(event) => props.onChange((event.target as HTMLSelectElement).value)}>
          {props.options.map((option) => <option key={option.value} value={option.value}>{option.label}</option>)}
        </select>
      )}
    </Field>
  );
}

export interface PickedImage {
  id: string;
  /** A data URL (an upload or a paste) or an http(s) URL. */
  src: string;
  name: string;
}

const readAsDataUrl = (file: Blob) =>
  new Promise<string>((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });

let pickedCount = 0;

/** Images for a request: files, pasted images or URLs, with previews; at most `max`. */
export function ImagePicker(props: { label: string; help: string; max: number; images: PickedImage[]; onChange: (images: PickedImage[]) => void; error?: string | undefined; name: string }) {
  const id = useId();
  const [url, setUrl] = useState("");
  const add = (more: PickedImage[]) => props.onChange([...props.images, ...more].slice(0, Math.max(props.max, 1)));
  const addFiles = async (files: Iterable<File>) => {
    const picked: PickedImage[] = [];
    for (const file of files) {
      if (!file.type.startsWith("image/")) continue;
      picked.push({ id: `img-${(pickedCount += 1)}`, src: await readAsDataUrl(file), name: file.name || "pasted image" });
    }
    add(picked);
  };
  const full = props.images.length >= props.max;
  return (
    <fieldset class={`field wide picker${props.error ? " invalid" : ""}`} aria-describedby={`${id}-help${props.error ? ` ${id}-error` : ""}`}>
      <legend>{props.label}</legend>
      <p class="help" id={`${id}-help`}>{props.help}</p>
      <div class="picker-row">
        <label class="button secondary file-button">
          {t("field.references.add")}
          <input type="file" name={props.name} accept="image/png,image/jpeg" multiple={props.max > 1} disabled={full} class="visually-hidden"
            onChange={async (event) => {
              const input = event.target as HTMLInputElement;
              await addFiles(Array.from(input.files ?? []));
              input.value = "";
            }} />
        </label>
        <div class="url-add">
          <label for={`${id}-url`} class="visually-hidden">{t("field.references.url")}</label>
          <input id={`${id}-url`} type="url" placeholder="https://…" value={url} disabled={full} onInput={(event) => setUrl((event.target as HTMLInputElement).value)} />
          <button type="button" class="secondary" disabled={full || !/^https?:\/\/\S+$/.test(url)} onClick={() => {
            add([{ id: `img-${(pickedCount += 1)}`, src: url, name: url }]);
            setUrl("");
          }}>{t("field.references.addUrl")}</button>
        </div>
      </div>
      <div class="drop" tabIndex={0} role="group" aria-label={t("field.references.drop")}
        onPaste={(event) => {
          const files = Array.from(event.clipboardData?.files ?? []);
          if (files.length) {
            event.preventDefault();
            void addFiles(files);
          }
        }}>
        {props.images.length === 0 ? <p class="muted">{t("field.references.none")} {t("field.references.drop")}.</p> : (
          <ul class="thumbs">
            {props.images.map((image, index) => (
              <li key={image.id}>
                <img src={image.src} alt={image.name} />
                <button type="button" class="remove" aria-label={t("field.references.remove", { index: index + 1 })} onClick={() => props.onChange(props.images.filter((other) => other.id !== image.id))}>×</button>
              </li>
            ))}
          </ul>
        )}
      </div>
      {props.error && <p class="field-error" id={`${id}-error`} role="alert">{props.error}</p>}
    </fieldset>
  );
}
