// Every fuzz target by name (the runner, its workers and the regression tests look them up here).

import type { FuzzTarget } from "../target.js";
import { cpuTarget } from "./cpu.js";
import { devicesTarget } from "./devices.js";
import { imagesTarget } from "./images.js";

export const TARGETS: Record<string, FuzzTarget> = {
  cpu: cpuTarget,
  devices: devicesTarget,
  images: imagesTarget,
};
