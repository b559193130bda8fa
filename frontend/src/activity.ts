/**
 * Typing counts: a person's keys, clicks, wheel and scrolls in the page send a
 * heartbeat POST, at most once every `max(1, max_idle_seconds / 10)` seconds,
 * and only while the server is waiting.
 */
import type { SessionModel } from './model';

/** The page events that show a person is here (listened to with capture). */
const EVENTS = ['keydown', 'mousedown', 'pointerdown', 'wheel', 'scroll'];

/** Sends throttled heartbeats on a person's input events. */
export class ActivityReporter {
  /** Listen to the document for a model's session. */
  constructor(private readonly _model: SessionModel) {
    for (const type of EVENTS) {
      document.addEventListener(type, this._onInput, {
        capture: true,
        passive: true
      });
    }
    _model.serverStopped.connect(() => this.dispose());
  }

  /** Stop listening. */
  dispose(): void {
    for (const type of EVENTS) {
      document.removeEventListener(type, this._onInput, { capture: true });
    }
  }

  /** The minimum time between two heartbeats, in ms; null when none is useful. */
  get intervalMs(): number | null {
    const status = this._model.status;
    const maxIdle = status?.idle.maxIdleSeconds;
    if (
      !status ||
      status.state !== 'waiting' ||
      this._model.stopping ||
      !maxIdle
    ) {
      return null; // no session yet, stopping, or no idle stop to put off
    }
    return Math.max(1, maxIdle / 10) * 1000;
  }

  private _onInput = (): void => {
    const interval = this.intervalMs;
    const now = Date.now();
    if (interval === null || this._sending || now - this._last < interval) {
      return;
    }
    this._last = now;
    this._sending = true;
    void this._model.heartbeat().finally(() => {
      this._sending = false;
    });
  };

  private _last = 0;
  private _sending = false;
}
