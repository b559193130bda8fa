/**
 * The server's REST API (`/interactive/...`): types, normalization and requests.
 *
 * Every request goes through `ServerConnection.makeRequest`, which carries the
 * token and the XSRF cookie. The status is normalized defensively: fields that an
 * older server does not send are null, and `task.parameters` may be a list of names.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Why the server stops. */
export type StopReason = 'resumed' | 'idle' | 'lifetime';

/** One parameter of the task, as the status shows it. */
export interface IParameter {
  name: string;
  annotation: string | null;
  /** The current value: JSON when `json` is true, else a readable repr. */
  value: unknown;
  /** Whether the value is known (older servers send names only). */
  known: boolean;
  /** Whether the value can be edited as JSON. */
  json: boolean;
}

/** The task the server serves. */
export interface ITask {
  module: string;
  qualname: string;
  parameters: IParameter[];
}

/** The idle state (the heartbeat body). */
export interface IIdle {
  secondsRemaining: number | null;
  shutdownDeadline: string | null;
  holds: string[];
  maxIdleSeconds: number | null;
  /** Seconds before the deadline at which to warn; 0 means no warning. */
  warningSeconds: number;
}

/** The normalized answer of `GET /interactive/status`. */
export interface IStatus {
  state: string;
  stopReason: StopReason | null;
  notebookPath: string | null;
  task: ITask | null;
  idle: IIdle;
}

/** The warning lead when the server does not say: its default, at most half the idle time. */
const DEFAULT_WARNING_SECONDS = 60;

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

/** A number, or null when the value is not a finite number. */
function num(value: unknown): number | null {
  return typeof value === 'number' && isFinite(value) ? value : null;
}

/** A string, or null. */
function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** Normalize one parameter: an object (new servers) or a name (older ones). */
function parameter(raw: unknown): IParameter | null {
  if (typeof raw === 'string') {
    return {
      name: raw,
      annotation: null,
      value: null,
      known: false,
      json: true
    };
  }
  if (raw && typeof raw === 'object' && typeof (raw as any).name === 'string') {
    const p = raw as Record<string, unknown>;
    return {
      name: p.name as string,
      annotation: str(p.annotation),
      value: p.value ?? null,
      known: 'value' in p,
      json: p.json !== false
    };
  }
  return null;
}

/** Normalize the task context, or null when the server serves no task. */
function task(raw: any): ITask | null {
  if (!raw || typeof raw !== 'object') {
    return null;
  }
  const params = Array.isArray(raw.parameters) ? raw.parameters : [];
  return {
    module: str(raw.module) ?? '',
    qualname: str(raw.qualname) ?? str(raw.module) ?? 'task',
    parameters: params
      .map(parameter)
      .filter((p: IParameter | null) => p !== null)
  };
}

/** Normalize the idle object (status `idle`, heartbeat body). */
export function normalizeIdle(raw: any): IIdle {
  const idle = raw && typeof raw === 'object' ? raw : {};
  const maxIdle = num(idle.max_idle_seconds);
  const fallback = Math.min(DEFAULT_WARNING_SECONDS, (maxIdle ?? Infinity) / 2);
  return {
    secondsRemaining: num(idle.seconds_remaining),
    shutdownDeadline: str(idle.shutdown_deadline),
    holds: Array.isArray(idle.holds) ? idle.holds.map(String) : [],
    maxIdleSeconds: maxIdle,
    warningSeconds: num(idle.warning_seconds) ?? fallback
  };
}

/** Normalize a status answer. */
export function normalizeStatus(raw: any): IStatus {
  const reason = str(raw?.stop_reason);
  const state = str(raw?.state) ?? 'waiting';
  return {
    state,
    stopReason:
      reason === 'resumed' || reason === 'idle' || reason === 'lifetime'
        ? reason
        : state === 'resuming'
          ? 'resumed'
          : null,
    notebookPath: str(raw?.notebook_path),
    task: task(raw?.task),
    idle: normalizeIdle(raw?.idle)
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
  const url = URLExt.join(settings.baseUrl, 'interactive', endpoint) + search;
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
