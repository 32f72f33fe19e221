// The application: the header (title, language, status, errors), machine setup and control, the
// console and VGA screen, and the views of the hypervisor in tabs. Settings (guest, mode, memory,
// profile, language, tab, plotted kinds) survive a reload through localStorage.

import { useEffect, useMemo, useState } from "preact/hooks";
import { configFor } from "../config.js";
import { guestById } from "../guests.js";
import { LANGS, type Lang, type MessageKey, numberFormat, translator } from "../i18n/index.js";
import { LabSession } from "../labs/session.js";
import type { Machine } from "../machine.js";
import { forgetMedium, type KeptMedium, keepMedium, listMedia, loadMedium } from "../media.js";
import type { StatusMessage } from "../protocol.js";
import { keepState, keptState } from "../saved-state.js";
import {
  defaultSettings,
  loadSettings,
  normalize,
  type Settings,
  saveSettings,
  TABS,
  UPLOAD_GUEST,
  withQuery,
} from "../settings.js";
import { downloadBytes, stateFileName } from "../state-file.js";
import { Compare } from "./Compare.js";
import { Console } from "./Console.js";
import { Costs } from "./Costs.js";
import { Crossings } from "./Crossings.js";
import { type Ui, UiContext, useMachine } from "./context.js";
import { Disk } from "./Disk.js";
import { Glossary } from "./Glossary.js";
import { Labs } from "./Labs.js";
import { Migrate } from "./Migrate.js";
import { PageWalk } from "./PageWalk.js";
import { Setup, type Upload } from "./Setup.js";
import { Tabs } from "./Tabs.js";
import { Trace } from "./Trace.js";
import { Vga } from "./Vga.js";

const STOP_KINDS = ["shutdown", "reset", "debug-exit", "halted", "vmexit", "stopped"];

function statusText(ui: Ui, st: StatusMessage): string {
  const insns = ui.nf.format(st.instructions);
  switch (st.state) {
    case "off":
      return ui.t("status.off");
    case "loading":
      return ui.t("status.loading");
    case "running":
      return ui.t("status.running", { insns, mips: st.mips.toFixed(1) });
    case "paused":
      return ui.t("status.paused", { insns });
    case "stopped": {
      const kind = st.stop?.kind ?? "stopped";
      const why = STOP_KINDS.includes(kind)
        ? ui.t(`stop.${kind}` as MessageKey, { detail: st.stop?.detail ?? "" })
        : kind;
      return ui.t("status.stopped", { why, insns });
    }
  }
}

export function App({ machine }: { machine: Machine }) {
  const [settings, setSettings] = useState<Settings>(() => withQuery(loadSettings(), location.search));
  const [upload, setUpload] = useState<Upload>();
  const [kept, setKept] = useState<readonly KeptMedium[]>([]);
  const [mediaError, setMediaError] = useState<string>();
  const [stateKept, setStateKept] = useState(false);
  useEffect(() => {
    keptState().then(
      (b) => setStateKept(b !== undefined),
      () => setStateKept(false),
    );
  }, []);
  const refreshKept = () =>
    listMedia()
      .then(setKept)
      .catch((e: unknown) => setMediaError(String(e)));
  useEffect(() => {
    refreshKept();
  }, []);
  const [errorSeen, setErrorSeen] = useState<string>();
  /** A short report of the last state action that succeeded (a polite live region). */
  const [notice, setNotice] = useState<string>();
  const labs = useMemo(() => new LabSession(machine), [machine]);
  useMachine(machine);
  useEffect(() => saveSettings(settings), [settings]);
  const ui = useMemo<Ui>(
    () => ({ lang: settings.lang, t: translator(settings.lang), nf: numberFormat(settings.lang) }),
    [settings.lang],
  );
  useEffect(() => {
    document.documentElement.lang = settings.lang;
    document.title = ui.t("app.title");
  }, [settings.lang, ui]);

  const change = (patch: Partial<Settings>) => setSettings((s) => normalize({ ...s, ...patch }));
  const boot = (s: Settings = settings) => {
    setNotice(undefined);
    machine.boot(configFor(s, upload));
  };
  const mediaFailed = (e: unknown) => setMediaError(String(e instanceof Error ? e.message : e));
  // Boot the remembered guest once, on load: a kept medium once its bytes are read back.
  useEffect(() => {
    if (settings.guest !== UPLOAD_GUEST) return boot();
    loadMedium(settings.kept)
      .then((u) => {
        setUpload(u);
        machine.boot(configFor(settings, u));
      })
      .catch((e: unknown) => {
        mediaFailed(e);
        const next = normalize({ ...settings, guest: defaultSettings().guest, kept: "" });
        setSettings(next);
        boot(next);
      });
  }, []);

  const { t } = ui;
  const error = mediaError ?? (machine.error && machine.error !== errorSeen ? machine.error : undefined);
  return (
    <UiContext.Provider value={ui}>
      <a class="skip" href="#terminal">
        {t("app.skip")}
      </a>
      <header>
        <h1>{t("app.title")}</h1>
        <span id="status" role="status" class={`status state-${machine.status.state}`}>
          {statusText(ui, machine.status)}
        </span>
        {/* net.html: a tiny Linux per Worker, each NIC on the page's network (page-network.ts). */}
        <a
          id="network-page"
          href={`./net.html?mode=${settings.mode}&mmu=${settings.mmu}`}
          target="_blank"
          rel="noopener"
        >
          {t("app.network")}
        </a>
        <label class="lang">
          {t("app.language")}
          <select id="lang" value={settings.lang} onChange={(e) => change({ lang: e.currentTarget.value as Lang })}>
            {LANGS.map((l) => (
              <option value={l}>{l === "en" ? "English" : "한국어"}</option>
            ))}
          </select>
        </label>
      </header>
      {error && (
        <div id="error" role="alert" class="error">
          <span>{t("status.error", { message: error })}</span>
          <button type="button" onClick={() => (mediaError ? setMediaError(undefined) : setErrorSeen(error))}>
            {t("error.dismiss")}
          </button>
        </div>
      )}
      {notice && (
        <p id="notice" class="notice" role="status">
          {notice}
        </p>
      )}
      <Setup
        settings={settings}
        upload={upload}
        state={machine.status.state}
        onChange={change}
        onUpload={(u) => {
          setUpload(u);
          change({ guest: UPLOAD_GUEST, kept: "" });
        }}
        onKernelExtras={(patch) => setUpload((u) => u && { ...u, ...patch })}
        kept={kept}
        onPickKept={(id) => {
          loadMedium(id)
            .then((u) => {
              setUpload(u);
              change({ guest: UPLOAD_GUEST, kept: id });
            })
            .catch(mediaFailed);
        }}
        onKeep={() => {
          if (!upload) return;
          keepMedium(upload)
            .then((m) => {
              setUpload({ ...upload, kept: m.id });
              if (settings.guest === UPLOAD_GUEST) change({ kept: m.id });
              return refreshKept();
            })
            .catch(mediaFailed);
        }}
        onForget={(id) => {
          forgetMedium(id)
            .then(() => {
              if (upload?.kept === id) setUpload({ ...upload, kept: undefined });
              if (settings.kept === id) change({ kept: "" });
              return refreshKept();
            })
            .catch(mediaFailed);
        }}
        onBoot={() => boot()}
        onPause={() => machine.pause()}
        onResume={() => machine.resume()}
        onSaveState={() => {
          machine
            .saveState()
            .then(keepState)
            .then(() => setStateKept(true))
            .catch(mediaFailed);
        }}
        onRestoreState={() => {
          keptState()
            .then((bytes) => {
              if (!bytes) throw new Error("no state is kept in this browser");
              return machine.restoreState(bytes);
            })
            .catch(mediaFailed);
        }}
        stateKept={stateKept}
        onDownloadState={() => {
          setNotice(undefined);
          const name = stateFileName(settings);
          machine
            .saveState()
            .then((bytes) => {
              downloadBytes(bytes, name);
              setNotice(t("notice.stateDownloaded", { name, size: ui.nf.format(Math.ceil(bytes.length / 1024)) }));
            })
            .catch(mediaFailed);
        }}
        onUploadState={(file) => {
          setNotice(undefined);
          setMediaError(undefined);
          machine
            .restoreState(file.bytes)
            .then(() => setNotice(t("notice.stateRestored", { name: file.name })))
            .catch((e: unknown) =>
              setMediaError(
                t("error.stateFile", { name: file.name, message: e instanceof Error ? e.message : String(e) }),
              ),
            );
        }}
        onReset={() => machine.reset()}
        onPowerOff={() => machine.powerOff()}
      />
      <main class="layout">
        <div class="screens">
          <Console machine={machine} />
          <Vga screen={machine.vga} onKey={(code, down) => machine.key(code, down)} />
        </div>
        <Tabs
          tabs={TABS}
          current={settings.tab}
          label={t("tabs.label")}
          name={(tab) => t(`tab.${tab}` as MessageKey)}
          onSelect={(tab) => change({ tab })}
        >
          {settings.tab === "crossings" && (
            <Crossings machine={machine} kinds={settings.chartKinds} onKinds={(chartKinds) => change({ chartKinds })} />
          )}
          {settings.tab === "trace" && <Trace machine={machine} />}
          {settings.tab === "costs" && <Costs machine={machine} profile={settings.profile} />}
          {settings.tab === "walk" && <PageWalk machine={machine} />}
          {settings.tab === "disk" && <Disk machine={machine} />}
          {settings.tab === "migrate" && <Migrate machine={machine} />}
          {settings.tab === "compare" && <Compare settings={settings} upload={upload} />}
          {settings.tab === "labs" && (
            <Labs
              session={labs}
              onRun={(m) => {
                const next = normalize({ ...settings, ...m, memMiB: guestById(m.guest)?.memMiB ?? settings.memMiB });
                setSettings(next);
                boot(next);
              }}
            />
          )}
          {settings.tab === "glossary" && <Glossary />}
        </Tabs>
      </main>
    </UiContext.Provider>
  );
}
