// The datacenter in a tab with VMs moving (npm run test:slow): the flow of admin.test.ts plus a
// live migration between the two Worker hosts (the guest answers on its console there) and a
// host's maintenance (the engine migrates the VM back, then marks the host; the state survives
// the reload).

import { describe, it } from "vitest";
import { datacenterFlow } from "./admin-flow.js";
import { useHarness } from "./harness.js";

const h = useHarness();

describe("the datacenter in a tab, VMs moving", () => {
  it("migrates a VM between Worker hosts and evacuates a host for maintenance", async () => {
    console.log(await datacenterFlow(h, true));
  });
});
