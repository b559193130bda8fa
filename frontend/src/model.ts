/**
 * The session model: what `GET /interactive/status` says, kept fresh.
 *
 * It polls the status (every 5 s, every second once the server is stopping),
 * listens to the lifecycle events, counts the idle deadline down locally and
 * signals its views. It decides nothing the server decides: it only reports.
 */
import type { Event } from '@jupyterlab/services';
import { ServerConnection } from '@jupyterlab/services';
import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';
import { Signal } from '@lumino/signaling';

import type { IIdle, IStatus, ITask, StopReason } from './api';
import {
  ApiError,
  normalizeIdle,
  normalizeStatus,
  postAPI,
  requestAPI
} from './api';

/** The lifecycle events' schema id. */
export const LIFECYCLE =
  'https://events.jupyter.org/interactive_ext/lifecycle/v1';

/** Milliseconds between status polls while the server waits. */
const POLL_MS = 5000;
/** Milliseconds between status polls once it is stopping (to see it go). */
const STOPPING_POLL_MS = 1000;
/** Milliseconds between local countdown ticks. */
const TICK_MS = 1000;

/** The session model token, provided by the `interactive-ext:session` plugin. */
export const IInteractiveSession = new Token<SessionModel>(
  'interactive-ext:IInteractiveSession',
  "The interactive task's session as the server reports it."
);

/** A random id for this page load, sent with status polls and the save report. */
function makeClientId(): string {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
}

/** The session as the server reports it, with a local countdown. */
export class SessionModel {
  /** Make a model listening to the given event manager. */
  constructor(private readonly _events: Event.IManager | null) {}

  /** This page's client id. */
  readonly clientId = makeClientId();

  /** The last status (null until the first answer). */
  get status(): IStatus | null {
    return this._status;
  }

  /** The task, or null when the server serves none (or no status yet). */
  get task(): ITask | null {
    return this._status?.task ?? null;
  }

  /** The task's display name. */
  get taskName(): string {
    return this.task?.qualname ?? 'task';
  }

  /** Whether the server is stopping (or stopped) and why, if known. */
  get stopping(): boolean {
    return this._stopping;
  }

  /** Why the server stops, once known. */
  get stopReason(): StopReason | null {
    return this._stopReason;
  }

  /** Whether the last status poll could not reach the server. */
  get unreachable(): boolean {
    return this._unreachable;
  }

  /** Whether the server has gone after a known stop. */
  get stopped(): boolean {
    return this._stopped;
  }

  /** Seconds until the idle stop by the local clock, or null (no idle stop or held). */
  get secondsRemaining(): number | null {
    if (this._deadlineMs === null) {
      return null;
    }
    return Math.max(0, (this._deadlineMs - Date.now()) / 1000);
  }

  /** The local deadline (ms since the epoch) this countdown runs to, or null. */
  get deadlineMs(): number | null {
    return this._deadlineMs;
  }

  /** When the idle state was last read from the server (ms since the epoch). */
  get syncedAt(): number {
    return this._syncedAt;
  }

  /** Emitted on every refresh and countdown tick. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted once when the server starts stopping (save window open). */
  get stoppingStarted(): ISignal<this, StopReason | null> {
    return this._stoppingStarted;
  }

  /** Emitted once when the server has gone after a known stop. */
  get serverStopped(): ISignal<this, StopReason | null> {
    return this._serverStopped;
  }

  /** Emitted for each lifecycle event, with its data. */
  get lifecycle(): ISignal<this, Record<string, any>> {
    return this._lifecycle;
  }

  /** Start polling, ticking and listening. */
  start(): void {
    this._events?.stream.connect(this._onEvent, this);
    this._tick = window.setInterval(() => this._changed.emit(), TICK_MS);
    void this.refresh();
  }

  /** Stop every timer and listener. */
  dispose(): void {
    window.clearInterval(this._tick);
    window.clearTimeout(this._poll);
    this._events?.stream.disconnect(this._onEvent, this);
    this._disposed = true;
  }

  /** Ask the server for the status now, then schedule the next poll. */
  async refresh(): Promise<void> {
    if (this._disposed || this._refreshing) {
      return;
    }
    window.clearTimeout(this._poll);
    this._refreshing = true;
    try {
      const raw = await requestAPI('status', {}, { client: this.clientId });
      this._unreachable = false;
      this._update(normalizeStatus(raw));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && !this._status) {
        console.info(
          'interactive-ext: the server has no /interactive API; staying off'
        );
        return; // the server extension is not enabled on this server
      }
      if (error instanceof ServerConnection.NetworkError && this._stopping) {
        this._markStopped();
        return;
      }
      this._unreachable = error instanceof ServerConnection.NetworkError;
      this._changed.emit();
      console.debug('interactive-ext: status failed', error);
    } finally {
      this._refreshing = false;
    }
    this._schedule();
  }

  /** Tell the server a person is here; answers false when it could not be sent. */
  async heartbeat(): Promise<boolean> {
    try {
      const idle = await postAPI('heartbeat');
      this._setIdle(normalizeIdle(idle));
      this._changed.emit();
      return true;
    } catch (error) {
      console.debug('interactive-ext: heartbeat failed', error);
      return false;
    }
  }

  /** Note a resume the server accepted (202): the server is on its way out. */
  noteResumed(): void {
    this._markStopping('resumed');
  }

  /** Note that the server stopped, seen by another part (a lost connection). */
  noteConnectionLost(): boolean {
    if (this._stopping) {
      this._markStopped();
    }
    return this._stopped;
  }

  private _schedule(): void {
    if (!this._disposed && !this._stopped) {
      const delay = this._stopping ? STOPPING_POLL_MS : POLL_MS;
      this._poll = window.setTimeout(() => void this.refresh(), delay);
    }
  }

  private _update(status: IStatus): void {
    this._status = status;
    this._setIdle(status.idle);
    if (status.state !== 'waiting') {
      this._markStopping(status.stopReason);
    }
    this._changed.emit();
  }

  private _setIdle(idle: IIdle): void {
    if (this._status) {
      this._status = { ...this._status, idle };
    }
    const remaining = idle.secondsRemaining;
    this._syncedAt = Date.now();
    this._deadlineMs =
      remaining === null ? null : Date.now() + remaining * 1000;
  }

  private _onEvent(_: Event.IManager, emission: Event.Emission): void {
    if (emission.schema_id !== LIFECYCLE) {
      return;
    }
    const data = ((emission as any).data ?? emission) as Record<string, any>;
    this._lifecycle.emit(data);
    const action = data.action;
    if (action === 'stopping' || action === 'shutdown' || action === 'resume') {
      const reason = data.reason ?? (action === 'resume' ? 'resumed' : null);
      this._markStopping(reason);
    }
    if (action === 'idle_warning' || action === 'stopping') {
      void this.refresh();
    }
  }

  private _markStopping(reason: StopReason | null): void {
    if (reason && !this._stopReason) {
      this._stopReason = reason;
    }
    if (this._stopping) {
      return;
    }
    this._stopping = true;
    this._deadlineMs = null;
    this._stoppingStarted.emit(this._stopReason);
    this._changed.emit();
    window.clearTimeout(this._poll);
    this._schedule();
  }

  private _markStopped(): void {
    if (this._stopped) {
      return;
    }
    this._stopped = true;
    this._serverStopped.emit(this._stopReason);
    this.dispose();
  }

  private _status: IStatus | null = null;
  private _deadlineMs: number | null = null;
  private _stopping = false;
  private _stopReason: StopReason | null = null;
  private _stopped = false;
  private _disposed = false;
  private _refreshing = false;
  private _unreachable = false;
  private _syncedAt = 0;
  private _tick = 0;
  private _poll = 0;
  private _changed = new Signal<this, void>(this);
  private _stoppingStarted = new Signal<this, StopReason | null>(this);
  private _serverStopped = new Signal<this, StopReason | null>(this);
  private _lifecycle = new Signal<this, Record<string, any>>(this);
}
