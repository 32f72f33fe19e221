// The lab's entry: one Worker hosting the VM, the Preact application around it, and a small hook
// for tests (window.__x86lab) that reads what the page shows.

import "@xterm/xterm/css/xterm.css";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { render } from "preact";
import { Machine, newVmWorker } from "./machine.js";
import { App } from "./ui/App.js";
import { installTestHook } from "./ui/test-hook.js";

const machine = new Machine(newVmWorker());
installTestHook(machine);
render(<App machine={machine} />, document.getElementById("app")!);
