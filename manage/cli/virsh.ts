// `npm run virsh -- [-c URI] VERB ARGS...`: libvirt's virsh for this project's domains, networks
// and pools (docs/virsh.md). The verbs are in virsh-commands.ts.

import { virsh } from "./virsh-commands.js";

virsh(process.argv.slice(2)).then((code) => {
  process.stdout.write("", () => process.exit(code));
});
