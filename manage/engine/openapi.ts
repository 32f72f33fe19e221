// The REST API's OpenAPI 3.0 description, built from the route table (api.ts) and the shapes
// below; docs/engine-openapi.json is this document (written by `npm run engine -- --openapi`,
// and test/manage/engine/openapi.test.ts checks the committed file is current and covers every
// route).

import { ROUTES } from "./api.js";
import { API } from "./api-json.js";

const ref = { type: "object", properties: { id: { type: "string" }, href: { type: "string" } } };
const named = { type: "object", properties: { id: { type: "string" }, name: { type: "string" } } };

const SCHEMAS: Record<string, unknown> = {
  Fault: {
    type: "object",
    properties: { reason: { type: "string" }, detail: { type: "string", description: "[what went wrong]" } },
  },
  Vm: {
    type: "object",
    properties: {
      id: { type: "string" },
      name: { type: "string" },
      href: { type: "string" },
      status: {
        type: "string",
        enum: ["down", "wait_for_launch", "powering_up", "up", "paused", "powering_down", "migrating", "unknown"],
      },
      status_detail: { type: "string" },
      memory: { type: "integer", description: "bytes" },
      cpu: { type: "object" },
      high_availability: {
        type: "object",
        properties: { enabled: { type: "boolean" }, priority: { type: "integer" } },
      },
      cluster: ref,
      host: ref,
    },
  },
  NewVm: {
    type: "object",
    required: ["domain_xml"],
    properties: {
      domain_xml: { type: "string", description: "libvirt domain XML (docs/virsh.md)" },
      cluster: named,
      high_availability: {
        type: "object",
        properties: { enabled: { type: "boolean" }, priority: { type: "integer" } },
      },
    },
  },
  Host: {
    type: "object",
    properties: {
      id: { type: "string" },
      name: { type: "string" },
      status: {
        type: "string",
        enum: [
          "up",
          "maintenance",
          "preparing_for_maintenance",
          "non_operational",
          "non_responsive",
          "connecting",
          "down",
        ],
      },
      status_detail: { type: "string" },
      address: { type: "string" },
      memory: { type: "integer" },
      cpu: { type: "object", properties: { type: { type: "string" } } },
      cluster: ref,
    },
  },
  Action: {
    type: "object",
    properties: {
      host: named,
      migration_policy: { type: "string", enum: ["minimal_downtime", "suspend_workload", "post_copy"] },
      fence_type: { type: "string", enum: ["manual"] },
      user: named,
    },
  },
  ActionResult: {
    type: "object",
    properties: {
      status: { type: "string", enum: ["complete"] },
      vm: { $ref: "#/components/schemas/Vm" },
      host: { $ref: "#/components/schemas/Host" },
      downtime_ms: { type: "number" },
      details: { type: "string", description: "what the migration policy could not do here (post-copy)" },
    },
  },
  Object: { type: "object", additionalProperties: true },
};

function schemaFor(method: string, path: string): { request?: string; response: string } {
  if (path === "/vms" && method === "POST") return { request: "NewVm", response: "Vm" };
  if (path === "/vms/{id}" && method === "GET") return { response: "Vm" };
  if (path === "/hosts/{id}" && method === "GET") return { response: "Host" };
  if (method === "POST" && /\/(start|stop|shutdown|migrate|deactivate|activate|fence|permissions)$/.test(path))
    return { request: "Action", response: "ActionResult" };
  return { request: method === "POST" || method === "PUT" ? "Object" : undefined, response: "Object" };
}

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    paths[r.path] ??= {};
    const p = paths[r.path];
    const s = schemaFor(r.method, r.path);
    const fault = {
      description: "a fault",
      content: { "application/json": { schema: { $ref: "#/components/schemas/Fault" } } },
    };
    const op: Record<string, unknown> = {
      summary: r.summary,
      parameters: r.path.includes("{id}")
        ? [{ name: "id", in: "path", required: true, schema: { type: "string" }, description: "id or name" }]
        : undefined,
      responses: {
        [r.method === "POST" && s.response !== "ActionResult" && !r.transport ? "201" : "200"]:
          r.transport === "console-stream"
            ? {
                description: "the console's bytes, streamed",
                headers: { "X-Console-Session": { schema: { type: "string" } } },
                content: { "text/plain": {} },
              }
            : {
                description: "ok",
                content: { "application/json": { schema: { $ref: `#/components/schemas/${s.response}` } } },
              },
        "400": fault,
        "401": fault,
        "403": fault,
        "404": fault,
        "409": fault,
      },
    };
    if (r.transport === "console-input") {
      op.parameters = [
        ...(op.parameters as unknown[]),
        { name: "session", in: "query", required: true, schema: { type: "string" } },
      ];
      op.requestBody = { content: { "application/octet-stream": {} } };
    } else if (s.request)
      op.requestBody = { content: { "application/json": { schema: { $ref: `#/components/schemas/${s.request}` } } } };
    p[r.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.0.3",
    info: {
      title: "x86lab engine REST API",
      version: "1",
      description:
        "oVirt's shape (collections, objects, actions as POST) in JSON. HTTP Basic authentication with user@internal. docs/engine.md describes it.",
    },
    servers: [{ url: API }],
    security: [{ basic: [] }],
    paths,
    components: { securitySchemes: { basic: { type: "http", scheme: "basic" } }, schemas: SCHEMAS },
  };
}
