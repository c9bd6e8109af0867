import { readBody } from '../http/readResponse.js';

/** One answer as the check sees it. */
export interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

export interface SendOptions {
  body?: unknown;
  key?: string;
  ifMatch?: string;
  headers?: Record<string, string>;
}

/** Sends requests to the API under test, with the caller's headers (e.g. authorization) on each. */
export class Probe {
  /** Every transient answer (408, 425, 429, 5xx) seen during the run, for the Retry-After case. */
  readonly transient: { request: string; status: number; retryAfter: string | null }[] = [];

  constructor(
    readonly baseUrl: string,
    private readonly headers: Record<string, string> = {},
    private readonly timeoutMs = 10_000,
  ) {}

  async send(method: string, path: string, options: SendOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { Accept: 'application/json', ...this.headers, ...options.headers };
    if (options.key !== undefined) headers['Idempotency-Key'] = options.key;
    if (options.ifMatch !== undefined) headers['If-Match'] = options.ifMatch;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const url = `${this.baseUrl}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new Error(`${method} ${path} got no answer (${error instanceof Error ? error.message : String(error)})`);
    }
    const answer = { status: response.status, body: await readBody(response), headers: response.headers };
    if ([408, 425, 429].includes(answer.status) || answer.status >= 500) {
      this.transient.push({ request: `${method} ${path}`, status: answer.status, retryAfter: response.headers.get('Retry-After') });
    }
    return answer;
  }
}
