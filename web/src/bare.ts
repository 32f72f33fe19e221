// bare.html: the same Worker and page-side handle as the lab, with no view at all (no terminal,
// no chart, no Preact). `npm run bench:web` times the Linux boot here and in the lab, in the same
// browser, so the difference is what the open lab costs the VM; ?guest=&mode=&mmu=&jit= as in the lab.

import { configFor } from "./config.js";
import { Machine, newVmWorker } from "./machine.js";
import { defaultSettings, withQuery } from "./settings.js";
import { installTestHook } from "./ui/test-hook.js";

const machine = new Machine(newVmWorker());
installTestHook(machine);
machine.boot(configFor(withQuery(defaultSettings(), location.search), undefined));
