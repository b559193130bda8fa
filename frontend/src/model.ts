/**
 * The session model: what `GET /interactive/status` says, kept fresh.
 *
 * A `Poll` reads the status (every 5 s, every second once the server is
 * stopping; backing off while the server does not answer; on standby in a
 * hidden tab with nothing to save) and the lifecycle events refresh it. The
 * model signals `changed` only when what it holds changes: the countdown ticks
 * in the views, from the local deadline. It decides nothing the server decides.
 */
import type { Event } from '@jupyterlab/services';
import { ServerConnection } from '@jupyterlab/services';
import { Token } from '@lumino/coreutils';
import { Poll } from '@lumino/polling';
import type { ISignal } from '@lumino/signaling';
import { Signal } from '@lumino/signaling';

import type { IChangedFile, IIdle, IStatus, ITask, StopReason } from './api';
import { ApiError, parseIdle, parseStatus, postAPI, requestAPI } from './api';
import { HEARTBEAT, LIFECYCLE, STATUS } from './routes';

/** Milliseconds between status polls while the server waits. */
const POLL_MS = 5000;
/** Milliseconds between status polls once it is stopping (to see it go). */
const STOPPING_POLL_MS = 1000;
/** The longest wait between two polls while the server does not answer (backoff). */
const MAX_POLL_MS = 30_000;
/**
 * Two local deadlines closer than this (ms) are the same deadline: for the
 * views (no `changed`) and for the warning (warned once per deadline).
 */
export const SAME_DEADLINE_MS = 2000;

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

/** What the views show of a status: all of it but the clock, which ticks. */
function shownPart(status: IStatus): string {
  const { secondsRemaining, ...idle } = status.idle;
  return JSON.stringify({ ...status, idle });
}

/** The session as the server reports it, with the local deadline. */
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

  /** Whether the server is stopping (or stopped). */
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

  /** Whether the countdown is within the warning's window (the views mark it). */
  get nearWarning(): boolean {
    const remaining = this.secondsRemaining;
    const warning = this._status?.idle.warningSeconds ?? 0;
    return (
      !this._stopping &&
      remaining !== null &&
      warning > 0 &&
      remaining <= warning
    );
  }

  /** The person's files changed since the task started, as the last status lists them. */
  get changes(): IChangedFile[] {
    const files = this.task?.changes;
    return Array.isArray(files)
      ? files.filter(f => typeof f?.path === 'string')
      : [];
  }

  /** How many changed files the resume this page sent runs with (null: not known here). */
  get resumedWith(): number | null {
    return this._resumedWith;
  }

  /** Whether two local deadlines (ms) are the same deadline (SAME_DEADLINE_MS). */
  sameDeadline(a: number | null, b: number | null): boolean {
    return a !== null && b !== null && Math.abs(a - b) < SAME_DEADLINE_MS;
  }

  /** The local deadline (ms since the epoch) the countdown runs to, or null. */
  get deadlineMs(): number | null {
    return this._deadlineMs;
  }

  /** When the idle state was last read from the server (ms since the epoch). */
  get syncedAt(): number {
    return this._syncedAt;
  }

  /** Emitted when what the model holds changes (not on clock ticks). */
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

  /** Keep polling in a hidden tab while `check` is true (it has something to save). */
  keepAwakeWhile(check: () => boolean): void {
    this._awake = check;
  }

  /** Start polling and listening. */
  start(): void {
    this._events?.stream.connect(this._onEvent, this);
    this._poll = new Poll({
      name: 'interactive-ext:status',
      factory: () => this._read(),
      frequency: { interval: POLL_MS, backoff: true, max: MAX_POLL_MS },
      standby: () => (this._stopping || this._awake() ? 'never' : 'when-hidden')
    });
  }

  /** Stop polling and listening. */
  dispose(): void {
    this._poll?.dispose();
    this._events?.stream.disconnect(this._onEvent, this);
  }

  /** Read the status now; resolves once it was read (or could not be). */
  async refresh(): Promise<void> {
    const poll = this._poll;
    if (!poll || poll.isDisposed) {
      return;
    }
    await poll.refresh();
    await poll.tick.catch(() => undefined);
  }

  /** Tell the server a person is here; answers false when it could not be sent. */
  async heartbeat(): Promise<boolean> {
    try {
      const idle = parseIdle(await postAPI(HEARTBEAT));
      if (this._status) {
        this._update({ ...this._status, idle });
      }
      return true;
    } catch (error) {
      console.debug('interactive-ext: heartbeat failed', error);
      return false;
    }
  }

  /** Note a resume the server accepted (202) with its changed files: the server is on its way out. */
  noteResumed(changedFiles: number | null = null): void {
    this._resumedWith = changedFiles;
    this._markStopping('resumed');
  }

  /** Note that the connection was lost (seen by another part); true when the session stopped. */
  noteConnectionLost(): boolean {
    if (this._stopping) {
      this._markStopped();
    }
    return this._stopped;
  }

  /** One poll: read the status; a failure rejects, so that the poll backs off. */
  private async _read(): Promise<void> {
    try {
      const raw = await requestAPI(STATUS, {}, { client: this.clientId });
      this._setUnreachable(false);
      this._update(parseStatus(raw));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && !this._status) {
        console.info(
          'interactive-ext: the server has no /interactive API; staying off'
        );
        this.dispose(); // the server extension is not enabled on this server
        return;
      }
      if (error instanceof ServerConnection.NetworkError && this._stopping) {
        this._markStopped();
        return;
      }
      this._setUnreachable(error instanceof ServerConnection.NetworkError);
      console.debug('interactive-ext: status failed', error);
      throw error;
    }
  }

  private _update(status: IStatus): void {
    const before = this._status ? shownPart(this._status) : null;
    const deadline = this._setIdle(status.idle);
    this._status = status;
    if (status.stopReason && !this._stopReason) {
      this._stopReason = status.stopReason;
    }
    if (status.state !== 'waiting') {
      this._markStopping(status.stopReason);
    }
    if (deadline || before !== shownPart(status)) {
      this._changed.emit();
    }
  }

  /** Set the local deadline from the idle state; true when it moved for the views. */
  private _setIdle(idle: IIdle): boolean {
    const previous = this._deadlineMs;
    const remaining = this._stopping ? null : idle.secondsRemaining;
    this._syncedAt = Date.now();
    this._deadlineMs =
      remaining === null ? null : this._syncedAt + remaining * 1000;
    if (previous === null || this._deadlineMs === null) {
      return previous !== this._deadlineMs;
    }
    return !this.sameDeadline(previous, this._deadlineMs);
  }

  private _setUnreachable(unreachable: boolean): void {
    if (this._unreachable !== unreachable) {
      this._unreachable = unreachable;
      this._changed.emit();
    }
  }

  private _onEvent(_: Event.IManager, emission: Event.Emission): void {
    if (emission.schema_id !== LIFECYCLE) {
      return;
    }
    const data = ((emission as any).data ?? emission) as Record<string, any>;
    this._lifecycle.emit(data);
    const action = data.action;
    if (action === 'stopping' || action === 'shutdown' || action === 'resume') {
      this._markStopping(data.reason ?? null);
    }
    if (action === 'idle_warning') {
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
    if (this._poll && !this._poll.isDisposed) {
      this._poll.frequency = {
        ...this._poll.frequency,
        interval: STOPPING_POLL_MS
      };
    }
    void this.refresh(); // the server's words for the stop, while it still answers
    this._stoppingStarted.emit(this._stopReason);
    this._changed.emit();
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
  private _resumedWith: number | null = null;
  private _stopped = false;
  private _unreachable = false;
  private _syncedAt = 0;
  private _awake: () => boolean = () => false;
  private _poll: Poll | null = null;
  private _changed = new Signal<this, void>(this);
  private _stoppingStarted = new Signal<this, StopReason | null>(this);
  private _serverStopped = new Signal<this, StopReason | null>(this);
  private _lifecycle = new Signal<this, Record<string, any>>(this);
}
