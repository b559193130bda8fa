/**
 * The server's REST API (`/interactive/...`): types, parsing and requests.
 *
 * Every request goes through `ServerConnection.makeRequest`, which carries the
 * token and the XSRF cookie. The server ships in the same wheel as this code:
 * the status is read as docs/rest.md describes it, with no fallbacks.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { route } from './routes';

/** Why the server stops. */
export type StopReason = 'resumed' | 'idle' | 'lifetime';

/** One parameter of the task, as the status shows it. */
export interface IParameter {
  name: string;
  annotation: string | null;
  /** The current value: JSON when `json` is true, else a readable repr. */
  value: unknown;
  /** Whether the value can be edited as JSON. */
  json: boolean;
}

/** One source file changed since the task started, as the status lists it. */
export interface IChangedFile {
  path: string;
  added: number;
  removed: number;
}

/** The task the server serves. */
export interface ITask {
  module: string;
  qualname: string;
  parameters: IParameter[];
  /** The person's files changed since the task started. */
  changes?: IChangedFile[];
}

/** The idle state (the heartbeat body). */
export interface IIdle {
  secondsRemaining: number | null;
  holds: string[];
  maxIdleSeconds: number | null;
  /** Seconds before the deadline at which to warn; 0 means no warning. */
  warningSeconds: number;
}

/** The answer of `GET /interactive/status`, as the views read it. */
export interface IStatus {
  state: 'waiting' | 'stopping' | 'stopped';
  stopReason: StopReason | null;
  /** The state in a few words (`stops in`, `kernel busy`, …); the countdown follows it. */
  summary: string;
  /** Why the server stops, in a sentence (the final page's), or null while waiting. */
  why: string | null;
  task: ITask | null;
  idle: IIdle;
}

/** An error answer from the API, with the server's message. */
export class ApiError extends Error {
  /** Make an error for an HTTP status and the server's message. */
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

/** The idle object (status `idle`, heartbeat body) in the views' names. */
export function parseIdle(raw: any): IIdle {
  return {
    secondsRemaining: raw.seconds_remaining,
    holds: raw.holds,
    maxIdleSeconds: raw.max_idle_seconds || null,
    warningSeconds: raw.warning_seconds
  };
}

/** A status answer in the views' names. */
export function parseStatus(raw: any): IStatus {
  return {
    state: raw.state,
    stopReason: raw.stop_reason,
    summary: raw.summary,
    why: raw.why,
    task: raw.task,
    idle: parseIdle(raw.idle)
  };
}

/**
 * Call the extension's REST API and answer the parsed JSON body.
 *
 * Throws `ApiError` (with the server's `message`) on an error status and
 * `ServerConnection.NetworkError` when the server cannot be reached.
 */
export async function requestAPI<T = any>(
  endpoint: string,
  init: RequestInit = {},
  query: Record<string, string> = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const search = URLExt.objectToQueryString(query);
  const url = URLExt.join(settings.baseUrl, route(endpoint)) + search;
  const response = await ServerConnection.makeRequest(url, init, settings);
  const text = await response.text();
  let body: any = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!response.ok) {
    const message =
      (body && (body.message || body.reason)) || response.statusText;
    throw new ApiError(response.status, String(message));
  }
  return body as T;
}

/** POST a JSON body. */
export function postAPI<T = any>(
  endpoint: string,
  body: unknown = {}
): Promise<T> {
  return requestAPI<T>(endpoint, {
    method: 'POST',
    body: JSON.stringify(body)
  });
}
