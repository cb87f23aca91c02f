import { CliError } from './errors.ts';

/** How long one request may take before the CLI gives up on it. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** An RFC 9457 problem document as the API answers it. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { pointer: string; detail: string }[];
}

/** A refusal by the API (a 4xx or 5xx answer); the message says what the problem document says. */
export class ApiError extends CliError {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly problem: Problem | undefined;

  constructor(message: string, status: number, problem: Problem | undefined) {
    super(message);
    this.status = status;
    this.problem = problem;
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
}

/** The Leadstage HTTP API as the CLI uses it: JSON in, JSON out, failures as CliErrors. */
export interface ApiClient {
  readonly baseUrl: string;
  /** Resolves with the parsed JSON answer, or undefined for an answer without a body (204). */
  request<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
}

export interface ApiClientOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs?: number;
}

/** The one-line message for a problem document: title, status, detail, then each field issue. */
export function describeProblem(status: number, problem: Problem): string {
  const head = `${problem.title ?? 'Request failed'} (HTTP ${status})`;
  const lines = [problem.detail ? `${head}: ${problem.detail}` : head];
  for (const issue of problem.errors ?? []) lines.push(`  ${issue.pointer}: ${issue.detail}`);
  return lines.join('\n');
}

/** Why a request got no answer at all, in words (the causes Node's fetch reports). */
function unreachable(baseUrl: string, error: unknown, timeoutMs: number): CliError {
  const err = error as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') {
    return new CliError(`No answer from ${baseUrl} within ${timeoutMs / 1000} s.`);
  }
  const code = err.cause?.code;
  const why =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'unknown host'
        : (err.cause?.message ?? err.message);
  return new CliError(
    `Cannot reach Leadstage at ${baseUrl} (${why}). Is it running (\`leadstage start\`)? ` +
      'Set the address with --url or LEADSTAGE_URL.',
  );
}

function isProblem(value: unknown): value is Problem {
  return typeof value === 'object' && value !== null && ('title' in value || 'detail' in value);
}

/** A client for the API at `baseUrl`, sending the key as a bearer token. */
export function createApiClient(options: ApiClientOptions): ApiClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  return {
    baseUrl,
    async request<T>(method: string, path: string, request: RequestOptions = {}): Promise<T> {
      const url = new URL(`${baseUrl}${path}`);
      for (const [name, value] of Object.entries(request.query ?? {})) {
        if (value !== undefined) url.searchParams.set(name, String(value));
      }
      const headers: Record<string, string> = {
        authorization: `Bearer ${options.apiKey}`,
        accept: 'application/json, application/problem+json',
      };
      if (request.body !== undefined) headers['content-type'] = 'application/json';
      let response: Response;
      let text: string;
      try {
        response = await fetch(url, {
          method,
          headers,
          ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await response.text();
      } catch (error) {
        throw unreachable(baseUrl, error, timeoutMs);
      }
      let parsed: unknown;
      if (text !== '') {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
      }
      if (!response.ok) {
        if (isProblem(parsed)) {
          let message = describeProblem(response.status, parsed);
          if (response.status === 401) {
            message += '\nCheck the key given with --api-key or LEADSTAGE_API_KEY.';
          }
          throw new ApiError(message, response.status, parsed);
        }
        throw new ApiError(
          `${method} ${url.pathname} failed: HTTP ${response.status} ${response.statusText} from ${baseUrl}` +
            ' (not a Leadstage answer: is --url right?)',
          response.status,
          undefined,
        );
      }
      if (text === '') return undefined as T;
      if (parsed === undefined) {
        throw new CliError(
          `${method} ${url.pathname}: the answer from ${baseUrl} is not JSON (is --url right?)`,
        );
      }
      return parsed as T;
    },
  };
}
