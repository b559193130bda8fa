/**
 * The countdown's clock: a view's render runs on the model's `changed` and,
 * while a countdown runs, every second (the model does not tick).
 */
import type { IDisposable } from '@lumino/disposable';

import type { SessionModel } from './model';

/** Milliseconds between two renders of a running countdown. */
const TICK_MS = 1000;

/** Calls `render` when the model changes and each second while it counts down. */
export class Ticker implements IDisposable {
  /** Render now, then on each change and tick of a model's countdown. */
  constructor(
    private readonly _model: SessionModel,
    private readonly _render: () => void
  ) {
    _model.changed.connect(this._update, this);
    this._update();
  }

  /** Whether the ticker is disposed. */
  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Stop rendering. */
  dispose(): void {
    this._disposed = true;
    window.clearInterval(this._timer);
    this._model.changed.disconnect(this._update, this);
  }

  private _update(): void {
    const counting = this._model.deadlineMs !== null;
    if (counting && !this._timer) {
      this._timer = window.setInterval(this._render, TICK_MS);
    } else if (!counting && this._timer) {
      window.clearInterval(this._timer);
      this._timer = 0;
    }
    this._render();
  }

  private _disposed = false;
  private _timer = 0;
}
