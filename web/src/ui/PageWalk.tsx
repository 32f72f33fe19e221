// The page-walk view: for a guest linear address, the guest's own walk, then what the
// hypervisor's memory virtualization does with it: the shadow entries (shadow paging) or the
// two-dimensional walk with every reference counted (EPT).

import { useState } from "preact/hooks";
import type { WalkEntry } from "../../../vmm/virt/walk-view.js";
import type { Machine } from "../machine.js";
import { hex } from "../qualification.js";
import { useUi } from "./context.js";

function flags(e: WalkEntry): string {
  if (!e.present) return "not present";
  if (e.level.startsWith("EPT"))
    return [e.entry & 1 ? "R" : "", e.entry & 2 ? "W" : "", e.entry & 4 ? "X" : ""].join("");
  const f = e.entry;
  return [
    "P",
    f & 2 ? "RW" : "RO",
    f & 4 ? "US" : "S",
    f & 0x20 ? "A" : "",
    f & 0x40 ? "D" : "",
    e.large ? "PS (4 MiB)" : "",
  ]
    .filter(Boolean)
    .join(" ");
}

function Entries({ caption, entries }: { caption: string; entries: WalkEntry[] }) {
  const { t } = useUi();
  return (
    <table class="counters walk">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{t("walk.level")}</th>
          <th scope="col">{t("walk.at")}</th>
          <th scope="col">{t("walk.entry")}</th>
          <th scope="col">{t("walk.flags")}</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((e) => (
          <tr key={`${e.level}${e.at}`}>
            <th scope="row">{e.level}</th>
            <td class="mono">
              {hex(e.at)} {e.space === "host" ? t("walk.host") : t("walk.guestPhys")}
            </td>
            <td class="mono">{hex(e.entry)}</td>
            <td>{flags(e)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function PageWalk({ machine }: { machine: Machine }) {
  const { t } = useUi();
  const [text, setText] = useState("");
  const [bad, setBad] = useState(false);
  const w = machine.walk;
  const v = w?.view;
  const walk = () => {
    const s = text.trim();
    if (s === "") return machine.requestWalk(null);
    // Always hexadecimal, with or without 0x (addresses are written so everywhere on the page).
    const digits = s.replace(/^0x/i, "");
    const ok = /^[0-9a-f]{1,8}$/i.test(digits);
    const n = Number.parseInt(digits, 16);
    setBad(!ok);
    if (ok) machine.requestWalk(n);
  };
  const live = machine.status.state !== "off" && machine.status.state !== "loading";
  return (
    <section aria-labelledby="walk-title">
      <h3 id="walk-title">{t("walk.title")}</h3>
      <p class="muted">{t("walk.hint")}</p>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          walk();
        }}
      >
        <label>
          {t("walk.address")}
          <input
            id="walk-address"
            value={text}
            placeholder={t("walk.placeholder")}
            aria-invalid={bad}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </label>
        <button type="submit" id="walk-go" disabled={!live}>
          {t("walk.go")}
        </button>
      </form>
      {bad && (
        <p role="alert" class="error">
          {t("walk.bad")}
        </p>
      )}
      {v && (
        <div id="walk">
          <p>
            {t("walk.summary", {
              linear: hex(v.linear),
              gpa: v.gpa === null ? t("walk.unmapped") : hex(v.gpa),
              refs: v.references,
            })}
          </p>
          {!v.paging && <p>{t("walk.noPaging")}</p>}
          {v.guest.length > 0 && <Entries caption={t("walk.guest")} entries={v.guest} />}
          {v.shadow && (
            <>
              <Entries caption={t("walk.shadow")} entries={v.shadow} />
              <p class="muted">{t("walk.shadowNote")}</p>
            </>
          )}
          {v.ept && (
            <>
              <p class="muted">{t("walk.eptNote")}</p>
              {v.ept.map((e) => (
                <Entries
                  key={`${e.for}${e.gpa}`}
                  caption={t("walk.eptFor", {
                    what: e.for,
                    gpa: hex(e.gpa),
                    host: e.hostPage === null ? "–" : hex(e.hostPage),
                  })}
                  entries={e.entries}
                />
              ))}
            </>
          )}
        </div>
      )}
    </section>
  );
}
