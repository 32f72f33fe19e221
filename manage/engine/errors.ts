// Errors the engine answers with. `status` is the HTTP status the REST API gives them, and the
// message is oVirt's fault detail: it says what was asked and why it cannot be done.

export class EngineError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 500 | 503,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string, id: string) => new EngineError(404, `${what} '${id}' not found`);
export const badRequest = (why: string) => new EngineError(400, why);
export const conflict = (why: string) => new EngineError(409, why);
export const forbidden = (why: string) => new EngineError(403, why);
