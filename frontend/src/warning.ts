/**
 * The idle warning: one dialog per approach to a deadline.
 *
 * It opens when the countdown reaches `idle.warning_seconds` (or on the server's
 * `idle_warning` event), offers Keep working (a heartbeat) and Resume task now,
 * and closes by itself when activity moves the deadline away. A deadline that was
 * warned about is never warned about again; a new deadline may be.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { clock } from './format';
import type { SessionModel } from './model';
import { Ticker } from './ticker';

/** The countdown is re-read from the server before warning when older than this (ms). */
const RESYNC_MS = 1500;

/** Watches the model and shows the warning dialog. */
export class IdleWarning {
  /** Watch a model; `resume` opens the Resume dialog. */
  constructor(
    private readonly _model: SessionModel,
    private readonly _resume: () => void
  ) {
    new Ticker(_model, () => this._check());
    _model.lifecycle.connect((_, data) => {
      if (data.action === 'idle_warning') {
        // about the deadline when it was sent: warn if the status read now still says so
        void _model.refresh().then(() => this._check());
      }
    });
  }

  private _check(): void {
    const model = this._model;
    const remaining = model.secondsRemaining;
    const deadline = model.deadlineMs;
    const warning = model.status?.idle.warningSeconds ?? 0;
    if (
      !model.task ||
      model.stopping ||
      remaining === null ||
      deadline === null
    ) {
      this._close();
      return;
    }
    if (this._dialog) {
      if (
        remaining > warning + 1 &&
        !model.sameDeadline(deadline, this._warned)
      ) {
        this._close(); // activity moved the deadline away
      } else {
        this._body.node.textContent = this._sentence(remaining);
      }
      return;
    }
    if (model.nearWarning && !model.sameDeadline(deadline, this._warned)) {
      if (Date.now() - model.syncedAt > RESYNC_MS) {
        // activity may have moved the deadline since the last poll: read it first
        void model.refresh().then(() => {
          if (Date.now() - model.syncedAt <= RESYNC_MS) {
            this._check();
          }
        });
        return;
      }
      this._warned = deadline;
      void this._show(remaining);
    }
  }

  private _sentence(remaining: number): string {
    return (
      `Nothing has happened in this session for a while: the server stops in ` +
      `${clock(remaining)} and the task ends without running. Keep working to keep ` +
      'the server, or resume the task now.'
    );
  }

  private async _show(remaining: number): Promise<void> {
    this._body = new Widget();
    this._body.addClass('jp-InteractiveTask-warningBody');
    this._body.node.textContent = this._sentence(remaining);
    const dialog = new Dialog({
      title: `The server for task ${this._model.taskName} stops in ${Math.ceil(remaining)} s`,
      body: this._body,
      buttons: [
        Dialog.createButton({
          label: 'Resume task now',
          accept: true,
          displayType: 'default'
        }),
        Dialog.okButton({ label: 'Keep working' })
      ],
      defaultButton: 1,
      hasClose: true
    });
    dialog.addClass('jp-InteractiveTask-warningDialog');
    this._dialog = dialog;
    const result = await dialog.launch();
    this._dialog = null;
    if (!result.button.accept) {
      return;
    }
    if (result.button.label === 'Keep working') {
      await this._model.heartbeat();
    } else {
      this._resume();
    }
  }

  private _close(): void {
    this._dialog?.reject();
    this._dialog = null;
  }

  private _dialog: Dialog<unknown> | null = null;
  private _body = new Widget();
  private _warned: number | null = null;
}
