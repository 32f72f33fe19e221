// The in-page transport of the admin view: oVirt's REST requests answered by the engine in this
// page, with no HTTP between them. The paths, bodies and faults are the ones the engine's REST
// server answers over the network, so the view cannot tell the two apart. The student who opened
// the tab is its administrator (the engine's SYSTEM principal): there is nobody else to keep out.

import type { ApiRequest, ApiResponse, ConsoleSession, EngineTransport } from "../../web/src/admin/client.js";
import { callApi } from "../engine/api.js";
import { SYSTEM } from "../engine/auth.js";
import type { Engine } from "../engine/engine.js";
import { latin1ToBytes } from "../engine/host-protocol.js";

export class PageTransport implements EngineTransport {
  readonly where = "this tab (datacenter in a tab)";

  constructor(private readonly engine: Engine) {}

  /** The engine's own routing (manage/engine/api.ts), as its REST server calls it per request. */
  request(req: ApiRequest): Promise<ApiResponse> {
    const [path, query] = req.path.split("?");
    return callApi(
      this.engine,
      SYSTEM,
      req.method,
      path ?? "",
      (req.body ?? {}) as Record<string, unknown>,
      new URLSearchParams(query),
    );
  }

  async console(vmId: string): Promise<ConsoleSession> {
    let s: Awaited<ReturnType<Engine["vms"]["openConsole"]>>;
    try {
      s = await this.engine.vms.openConsole(SYSTEM, vmId);
    } catch (e) {
      throw new Error(e instanceof Error ? e.message : String(e));
    }
    return {
      // The host sends the guest's bytes as Latin-1 text (one char a byte): bytes again for the terminal.
      onData: (cb) => s.onData((data) => cb(latin1ToBytes(data))),
      onClose: (cb) => s.onClose(cb),
      // What is typed is text; the guest gets its UTF-8 bytes, one char a byte on the way.
      send: (text) => s.write(String.fromCharCode(...new TextEncoder().encode(text))),
      close: () => s.close(),
    };
  }
}
