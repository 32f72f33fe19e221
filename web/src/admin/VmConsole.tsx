// A VM's serial console in the page: an xterm.js terminal on the engine's console session (the
// in-page host's COM1, or the server's console stream). What the guest prints is written to the
// terminal as it comes; what is typed goes to the guest. When the VM moves to another host (a
// live migration) the session is opened again on the new host, in the same terminal.

import { Terminal } from "@xterm/xterm";
import { useEffect, useRef, useState } from "preact/hooks";
import type { ApiObject, ConsoleSession, EngineClient } from "./client.js";

/** The terminals' text by VM name, for the browser test (window.__x86admin.consoleText). */
export const consoleTexts = new Map<string, () => string>();

const hostOf = (vm: ApiObject) => (vm.host as { id?: string } | undefined)?.id ?? "";

export function VmConsole({ client, vm, onClose }: { client: EngineClient; vm: ApiObject; onClose: () => void }) {
  const box = useRef<HTMLDivElement>(null);
  const term = useRef<Terminal | undefined>(undefined);
  const session = useRef<ConsoleSession | undefined>(undefined);
  const [note, setNote] = useState("connecting…");
  const name = vm.name ?? vm.id;
  const host = hostOf(vm);

  useEffect(() => {
    const tm = new Terminal({ cols: 80, rows: 24, fontSize: 12, scrollback: 2000 });
    tm.open(box.current!);
    box.current?.querySelector("textarea")?.setAttribute("aria-label", `console of ${name}`);
    term.current = tm;
    const typed = tm.onData((data) => session.current?.send(data));
    consoleTexts.set(name, () => {
      const buf = tm.buffer.active;
      const lines: string[] = [];
      for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? "");
      return lines.join("\n").replace(/\n+$/, "");
    });
    return () => {
      typed.dispose();
      consoleTexts.delete(name);
      tm.dispose();
      term.current = undefined;
    };
  }, [name]);

  // One session per host the VM runs on.
  useEffect(() => {
    let closed = false;
    setNote("connecting…");
    client.console(vm.id).then(
      (s) => {
        if (closed) return s.close();
        session.current = s;
        setNote("connected");
        s.onData((bytes) => term.current?.write(bytes));
        s.onClose((why) => {
          if (!closed) setNote(why);
        });
      },
      (e: unknown) => setNote((e as Error).message),
    );
    return () => {
      closed = true;
      session.current?.close();
      session.current = undefined;
    };
  }, [client, vm.id, host]);

  return (
    <section class="console" aria-labelledby="console-title">
      <h2 id="console-title">
        Console of {name} <small>({note})</small>{" "}
        <button type="button" onClick={onClose}>
          Close
        </button>
      </h2>
      <div class="terminal" id={`terminal-${name}`} ref={box} />
    </section>
  );
}
