/**
 * The status indicator: `Task train · stops in 12:34`; a click opens the Resume dialog.
 *
 * JupyterLab shows it in the status bar; Notebook 7, which has none, in its top area.
 * It re-renders on the model's `changed` and, while a countdown runs, every second.
 */
import { Widget } from '@lumino/widgets';

import { statusText, statusTitle } from './format';
import type { SessionModel } from './model';
import { Ticker } from './ticker';

/** The indicator widget, hidden while there is no task. */
export class SessionIndicator extends Widget {
  /** Make an indicator for a model; `onClick` runs when the person clicks it. */
  constructor(
    private readonly _model: SessionModel,
    onClick: () => void
  ) {
    super({ node: document.createElement('button') });
    this.addClass('jp-InteractiveTask-indicator');
    this.node.setAttribute('type', 'button');
    this.node.addEventListener('click', onClick);
    this._ticker = new Ticker(_model, () => this._render());
  }

  /** Whether there is something to show. */
  get active(): boolean {
    return statusText(this._model) !== null;
  }

  /** Stop ticking. */
  dispose(): void {
    this._ticker.dispose();
    super.dispose();
  }

  private _render(): void {
    const text = statusText(this._model);
    this.setHidden(text === null);
    if (text !== null && this.node.textContent !== text) {
      this.node.textContent = text;
      this.node.title = statusTitle(this._model);
    }
    this.toggleClass('jp-InteractiveTask-warning', this._model.nearWarning);
  }

  private _ticker: Ticker;
}
