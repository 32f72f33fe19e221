// Machine setup and control: the guest (built in, or a kernel uploaded from this computer), the
// mode and memory virtualization, memory size and cost profile; boot, pause, resume, reset and
// power off. Choices the guest cannot run under are not offered.

import { useState } from "preact/hooks";
import { PROFILES } from "../../../vmm/stats/profiles.js";
import type { MmuMode, VirtMode } from "../../../vmm/virt/vmcs.js";
import { UPLOAD_CMDLINE, type Upload } from "../config.js";
import { GUESTS, MEMORY_CHOICES, mmusFor } from "../guests.js";
import type { MessageKey } from "../i18n/index.js";
import type { KeptMedium } from "../media.js";
import type { MachineState } from "../protocol.js";
import { type Settings, UPLOAD_GUEST as UPLOAD_ID } from "../settings.js";
import { useUi } from "./context.js";

export type { Upload } from "../config.js";

const ALL_MODES: readonly VirtMode[] = ["native", "trap", "bt", "hvm", "pv"];
/** Guest-list values of kept media: the prefix, then the medium's id. */
const KEPT_PREFIX = "kept:";

interface Props {
  settings: Settings;
  upload: Upload | undefined;
  state: MachineState;
  onChange(patch: Partial<Settings>): void;
  onUpload(u: Upload): void;
  /** Changes the uploaded kernel's initrd or command line (the upload stays chosen). */
  onKernelExtras(patch: Pick<Upload, "initrd" | "cmdline">): void;
  /** Media kept in this browser (media.ts), listed among the guests. */
  kept: readonly KeptMedium[];
  onPickKept(id: string): void;
  onKeep(): void;
  onForget(id: string): void;
  onBoot(): void;
  onPause(): void;
  onResume(): void;
  /** Keeps the VM's whole state in this browser; restores it into the running VM. */
  onSaveState(): void;
  onRestoreState(): void;
  /** A state is kept (the restore button is live). */
  stateKept: boolean;
  /** Saves the VM's whole state as a file the user keeps (a download). */
  onDownloadState(): void;
  /** Restores the running VM from a state file the user picked (refused with an error if it is not one). */
  onUploadState(file: { name: string; bytes: Uint8Array }): void;
  onReset(): void;
  onPowerOff(): void;
}

export function Setup(p: Props) {
  const { t } = useUi();
  const [kind, setKind] = useState<Upload["kind"]>("kernel");
  const s = p.settings;
  const guest = GUESTS.find((g) => g.id === s.guest);
  const modes = guest ? guest.modes : ALL_MODES;
  const running = p.state === "running";
  const paused = p.state === "paused";
  const live = running || paused;
  return (
    <section class="setup" aria-labelledby="setup-title">
      <h2 id="setup-title" class="visually-hidden">
        {t("setup.title")}
      </h2>
      <form
        class="setup-form"
        onSubmit={(e) => {
          e.preventDefault();
          p.onBoot();
        }}
      >
        <label>
          {t("setup.guest")}
          <select
            id="guest"
            value={s.guest}
            onChange={(e) => {
              const v = e.currentTarget.value;
              if (v.startsWith(KEPT_PREFIX)) p.onPickKept(v.slice(KEPT_PREFIX.length));
              else p.onChange({ guest: v });
            }}
          >
            {GUESTS.map((g) => (
              <option value={g.id}>{t(`guest.${g.id}` as MessageKey)}</option>
            ))}
            {p.upload && <option value={UPLOAD_ID}>{t("setup.uploaded", { name: p.upload.name })}</option>}
            {p.kept.length > 0 && (
              <optgroup label={t("setup.keptGroup")}>
                {p.kept
                  .filter((m) => !(s.guest === UPLOAD_ID && p.upload?.kept === m.id))
                  .map((m) => (
                    <option value={KEPT_PREFIX + m.id}>
                      {t("setup.keptItem", { name: m.name, kind: t(`upload.${m.kind}` as MessageKey) })}
                    </option>
                  ))}
              </optgroup>
            )}
          </select>
        </label>
        <label>
          {t("setup.mode")}
          <select
            id="mode"
            value={s.mode}
            onChange={(e) => {
              const mode = e.currentTarget.value as VirtMode;
              p.onChange({ mode, mmu: mmusFor(mode)[0]! });
            }}
          >
            {modes.map((m) => (
              <option value={m}>{t(`mode.${m}` as MessageKey)}</option>
            ))}
          </select>
        </label>
        <label>
          {t("setup.mmu")}
          <select id="mmu" value={s.mmu} onChange={(e) => p.onChange({ mmu: e.currentTarget.value as MmuMode })}>
            {mmusFor(s.mode).map((m) => (
              <option value={m}>{t(`mmu.${m}` as MessageKey)}</option>
            ))}
          </select>
        </label>
        <label>
          {t("setup.memory")}
          <select id="memory" value={s.memMiB} onChange={(e) => p.onChange({ memMiB: Number(e.currentTarget.value) })}>
            {MEMORY_CHOICES.filter((m) => m >= (guest?.memMiB ?? 16)).map((m) => (
              <option value={m}>{m} MiB</option>
            ))}
          </select>
        </label>
        <label>
          {t("setup.profile")}
          <select id="profile" value={s.profile} onChange={(e) => p.onChange({ profile: e.currentTarget.value })}>
            {PROFILES.map((pr) => (
              <option value={pr.id} title={pr.name}>
                {pr.id}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("setup.jit")}
          <select
            id="jit"
            value={s.jit ? "on" : "off"}
            title={t("setup.jitHint")}
            onChange={(e) => p.onChange({ jit: e.currentTarget.value === "on" })}
          >
            <option value="on">{t("jit.on")}</option>
            <option value="off">{t("jit.off")}</option>
          </select>
        </label>
        <fieldset class="upload">
          <legend>{t("setup.upload")}</legend>
          <select
            id="upload-kind"
            aria-label={t("setup.uploadKind")}
            value={kind}
            onChange={(e) => setKind(e.currentTarget.value as Upload["kind"])}
          >
            <option value="kernel">{t("upload.kernel")}</option>
            <option value="hda">{t("upload.hda")}</option>
            <option value="cdrom">{t("upload.cdrom")}</option>
          </select>
          {/* The native file input's own text follows the browser's language, not the page's:
              it is hidden visually (still focusable) and a label in the page's language shows. */}
          <input
            id="upload"
            type="file"
            class="visually-hidden"
            aria-label={t("setup.uploadFile")}
            onChange={async (e) => {
              const f = e.currentTarget.files?.[0];
              if (f) p.onUpload({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()), kind });
            }}
          />
          <label for="upload" class="file-button" title={t("setup.uploadHint")}>
            {t("setup.chooseFile")}
          </label>
          <span class="muted">{p.upload ? p.upload.name : t("setup.noFile")}</span>
          {p.upload &&
            (p.upload.kept ? (
              <button type="button" id="forget-medium" onClick={() => p.onForget(p.upload!.kept!)}>
                {t("setup.forget")}
              </button>
            ) : (
              <button type="button" id="keep-medium" title={t("setup.keepHint")} onClick={p.onKeep}>
                {t("setup.keep")}
              </button>
            ))}
          {p.upload?.kind === "kernel" && (
            <div class="kernel-extras">
              <input
                id="upload-initrd"
                type="file"
                class="visually-hidden"
                aria-label={t("setup.initrd")}
                onChange={async (e) => {
                  const input = e.currentTarget;
                  const f = input.files?.[0];
                  if (f) p.onKernelExtras({ initrd: { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) } });
                  // The same file can be picked again after "Remove the initrd".
                  input.value = "";
                }}
              />
              <label for="upload-initrd" class="file-button" title={t("setup.initrdHint")}>
                {t("setup.chooseInitrd")}
              </label>
              <span class="muted" id="initrd-name">
                {p.upload.initrd ? p.upload.initrd.name : t("setup.noInitrd")}
              </span>
              {p.upload.initrd && (
                <button type="button" id="clear-initrd" onClick={() => p.onKernelExtras({ initrd: undefined })}>
                  {t("setup.clearInitrd")}
                </button>
              )}
              <label class="cmdline">
                {t("setup.cmdline")}
                <input
                  id="upload-cmdline"
                  type="text"
                  spellcheck={false}
                  value={p.upload.cmdline ?? UPLOAD_CMDLINE}
                  onInput={(e) => p.onKernelExtras({ cmdline: e.currentTarget.value })}
                />
              </label>
            </div>
          )}
        </fieldset>
        <div class="buttons">
          <button type="submit" id="boot" class="primary">
            {t("setup.boot")}
          </button>
          {paused ? (
            <button type="button" id="resume" onClick={p.onResume}>
              {t("control.resume")}
            </button>
          ) : (
            <button type="button" id="pause" onClick={p.onPause} disabled={!running}>
              {t("control.pause")}
            </button>
          )}
          <button
            type="button"
            id="save-state"
            title={t("control.saveStateHint")}
            onClick={p.onSaveState}
            disabled={!live}
          >
            {t("control.saveState")}
          </button>
          <button
            type="button"
            id="restore-state"
            title={t("control.restoreStateHint")}
            onClick={p.onRestoreState}
            disabled={!live || !p.stateKept}
          >
            {t("control.restoreState")}
          </button>
          <button
            type="button"
            id="download-state"
            title={t("control.downloadStateHint")}
            onClick={p.onDownloadState}
            disabled={!live}
          >
            {t("control.downloadState")}
          </button>
          {/* As with the upload above: the native input is hidden, a label in the page's language shows. */}
          <input
            id="state-file"
            type="file"
            class="visually-hidden"
            aria-label={t("control.uploadStateHint")}
            disabled={!live}
            onChange={async (e) => {
              const input = e.currentTarget;
              const f = input.files?.[0];
              // Cleared, so that picking the same file again is a change too.
              input.value = "";
              if (f) p.onUploadState({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) });
            }}
          />
          <label
            for="state-file"
            class={`file-button${live ? "" : " disabled"}`}
            title={t("control.uploadStateHint")}
            aria-disabled={!live}
          >
            {t("control.uploadState")}
          </label>
          <button type="button" id="reset" onClick={p.onReset} disabled={p.state === "off"}>
            {t("control.reset")}
          </button>
          <button type="button" id="power-off" onClick={p.onPowerOff} disabled={!live && p.state !== "stopped"}>
            {t("control.powerOff")}
          </button>
        </div>
      </form>
    </section>
  );
}
