// The accounting and cost-model module (issue 4, items 4 and 5).

export * from "./core-stats.js";
export * from "./cost-model.js";
export * from "./events.js";
export * from "./profiles.js";
export * from "./stats.js";
