/** The app's shell: the key, the language, and the two screens (`#/` the playground, `#/console` the console). */
import type { ModelObject } from "@doubao-gateway/sdk";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { apiKey, client, describeError, keyPrefix, setApiKey, type ShownError } from "./api.js";
import { Console } from "./console.js";
import { lang, setLang, t } from "./i18n.js";
import { Playground } from "./playground.js";
import { useSignal } from "./state.js";
import "./styles.css";

type Screen = "playground" | "console";
const screenOf = (hash: string): Screen => (hash.startsWith("#/console") ? "console" : "playground");

function KeyBar() {
  const key = useSignal(apiKey);
  const [draft, setDraft] = useState("");
  if (key) {
    return (
      <div class="keybar">
        <span class="muted">{t("key.using", { prefix: keyPrefix(key) })}</span>
        <button type="button" class="secondary small" onClick={() => setApiKey("")}>{t("key.forget")}</button>
      </div>
    );
  }
  return (
    <form class="keybar" onSubmit={(event) => {
      event.preventDefault();
      setApiKey(draft.trim());
      setDraft("");
    }}>
      <label for="api-key">{t("key.label")}</label>
      <input id="api-key" name="api-key" type="password" autoComplete="off" spellcheck={false} placeholder={t("key.placeholder")} value={draft} aria-describedby="api-key-help"
        onInput={(event) => setDraft((event.target as HTMLInputElement).value)} />
      <button type="submit" class="primary small" disabled={!draft.trim()}>{t("key.save")}</button>
      <p id="api-key-help" class="help">{t("key.help")}</p>
    </form>
  );
}

function App() {
  const language = useSignal(lang);
  const key = useSignal(apiKey);
  const [screen, setScreen] = useState<Screen>(screenOf(location.hash));
  const [models, setModels] = useState<ModelObject[] | undefined>();
  const [modelsError, setModelsError] = useState<ShownError | undefined>();

  useEffect(() => {
    const onHash = () => setScreen(screenOf(location.hash));
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  useEffect(() => {
    document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
    document.title = `${t("app.title")} — ${screen === "console" ? t("nav.console") : t("nav.playground")}`;
  }, [language, screen]);
  useEffect(() => {
    setModels(undefined);
    setModelsError(undefined);
    if (!key) return;
    client().models.list().then((list) => setModels(list.data), (error: unknown) => setModelsError(describeError(error)));
  }, [key, language]);

  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <div class="brand">
          <svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true"><rect width="32" height="32" rx="8" fill="#1d4ed8" /><path d="M9 22V10h6a6 6 0 0 1 0 12z" fill="#fff" /><circle cx="23" cy="11" r="3" fill="#fbbf24" /></svg>
          <div>
            <h1>{t("app.title")}</h1>
            <p class="tagline">{t("app.tagline")}</p>
          </div>
        </div>
        <nav aria-label="Main">
          <a href="#/" aria-current={screen === "playground" ? "page" : undefined}>{t("nav.playground")}</a>
          <a href="#/console" aria-current={screen === "console" ? "page" : undefined}>{t("nav.console")}</a>
          <button type="button" class="secondary small" lang={language === "zh" ? "en" : "zh-CN"} aria-label={t("nav.languageLabel")} onClick={() => setLang(language === "zh" ? "en" : "zh")}>{t("nav.language")}</button>
        </nav>
      </header>
      <KeyBar />
      <main id="main">
        {!key ? <p class="panel intro">{t("key.none")}</p> : screen === "console" ? <Console key={key} models={models} /> : <Playground models={models} modelsError={modelsError} />}
      </main>
    </>
  );
}

// The Chinese subset is loaded before the first render: text laid out while it was still loading would keep the
// fallback's empty boxes in Chromium. Both languages show some Chinese (the language button, the mark's name).
void document.fonts.load('16px "Doubao UI SC"', "中文").catch(() => undefined).finally(() => render(<App />, document.getElementById("app") as HTMLElement));
