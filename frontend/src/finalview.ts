/**
 * The final view: once the server has stopped after a resume or an idle or
 * lifetime stop, the whole tab says so, instead of a reconnect dialog.
 */
import { Dialog } from '@jupyterlab/apputils';

import type { StopReason } from './api';
import { finalMessage } from './format';
import type { SessionModel } from './model';

/** Id of the final page's node (one per page). */
const NODE_ID = 'jp-InteractiveTask-final';

/** "Resumed with 2 changed files (the task's log has the patch). " or "". */
function changesNote(model: SessionModel): string {
  const resumedWith = model.resumedWith;
  if (resumedWith === null) {
    return '';
  }
  if (resumedWith === 0) {
    return 'Resumed with no changed source file. ';
  }
  const files = `${resumedWith} changed file${resumedWith === 1 ? '' : 's'}`;
  return `Resumed with ${files} (the task's log has the patch). `;
}

/** Cover the page with the final message for a stop reason. */
export function showFinalView(
  model: SessionModel,
  reason: StopReason | null
): void {
  if (document.getElementById(NODE_ID)) {
    return;
  }
  Dialog.flush(); // a warning or reconnect dialog has nothing left to act on
  const node = document.createElement('div');
  node.id = NODE_ID;
  node.className = 'jp-InteractiveTask-final';
  node.setAttribute('role', 'alertdialog');
  node.setAttribute('aria-live', 'assertive');
  const box = document.createElement('div');
  box.className = 'jp-InteractiveTask-finalBox';
  const title = document.createElement('h1');
  title.textContent = model.task ? `Task ${model.taskName}` : 'Jupyter server';
  const message = document.createElement('p');
  message.className = 'jp-InteractiveTask-finalMessage';
  message.textContent = finalMessage(model);
  const hint = document.createElement('p');
  hint.className = 'jp-InteractiveTask-finalHint';
  hint.textContent =
    reason === 'resumed'
      ? `${changesNote(model)}Its output goes to wherever the task logs. You can close this tab.`
      : 'Saved work stays in the files. You can close this tab.';
  box.append(title, message, hint);
  node.appendChild(box);
  document.body.appendChild(node);
  document.title = `${title.textContent}: stopped`;
}
