// A VM's serial console in the page: an xterm.js terminal on the engine's console session (the
// in-page host's COM1, or the server's console WebSocket). What the guest prints is written to
// the terminal as it comes; what is typed goes to the guest.

import { Terminal } from "@xterm/xterm";
import { useEffect, useRef, useState } from "preact/hooks";
import type { ApiObject, EngineClient } from "./client.js";

/** The terminals' text by VM name, for the browser test (window.__x86admin.consoleText). */
export const consoleTexts = new Map<string, () => string>();

export function VmConsole({ client, vm, onClose }: { client: EngineClient; vm: ApiObject; onClose: () => void }) {
  const host = useRef<HTMLDivElement>(null);
  const [note, setNote] = useState("connecting…");
  const name = vm.name ?? vm.id;
  useEffect(() => {
    const tm = new Terminal({ cols: 80, rows: 24, fontSize: 12, scrollback: 2000 });
    tm.open(host.current!);
    host.current?.querySelector("textarea")?.setAttribute("aria-label", `console of ${name}`);
    consoleTexts.set(name, () => {
      const buf = tm.buffer.active;
      const lines: string[] = [];
      for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? "");
      return lines.join("\n").replace(/\n+$/, "");
    });
    let closed = false;
    let session: Awaited<ReturnType<EngineClient["console"]>> | undefined;
    client.console(vm.id).then(
      (s) => {
        if (closed) return s.close();
        session = s;
        setNote("connected");
        s.onData((text) => tm.write(text));
        s.onClose((why) => setNote(why));
        tm.onData((data) => s.send(data));
      },
      (e: unknown) => setNote((e as Error).message),
    );
    return () => {
      closed = true;
      session?.close();
      consoleTexts.delete(name);
      tm.dispose();
    };
  }, [client, vm.id, name]);
  return (
    <section class="console" aria-labelledby="console-title">
      <h2 id="console-title">
        Console of {name} <small>({note})</small>{" "}
        <button type="button" onClick={onClose}>
          Close
        </button>
      </h2>
      <div class="terminal" id={`terminal-${name}`} ref={host} />
    </section>
  );
}
