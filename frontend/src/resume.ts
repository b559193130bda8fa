/**
 * The Resume dialog: the task's parameters (JSON ones editable), a confirm step,
 * then `POST /interactive/resume` with only the changed inputs.
 *
 * The server checks the inputs; its 400 message is shown and the person can fix it.
 */
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import type { IChangedFile, IParameter, ITask } from './api';
import { ApiError, postAPI } from './api';
import { describeInputs } from './format';
import type { SessionModel } from './model';
import { RESUME } from './routes';

/** The JSON texts the person typed, by parameter name. */
type Texts = Record<string, string>;

/** The text a field starts with: the value as JSON. */
function initialText(p: IParameter): string {
  return JSON.stringify(p.value ?? null);
}

/** The form: one row per parameter, an error line on top. */
class ResumeForm extends Widget {
  /** Make the form for a task, with the texts kept from a previous round. */
  constructor(task: ITask, texts: Texts, error: string | null) {
    super();
    this.addClass('jp-InteractiveTask-resumeForm');
    const intro = document.createElement('p');
    intro.textContent =
      `Resuming stops this server and runs ${task.qualname} in the task's own process. ` +
      'Edit a value (as JSON) to change that input.';
    this.node.appendChild(intro);
    if (error) {
      const box = document.createElement('p');
      box.className = 'jp-InteractiveTask-error';
      box.textContent = error;
      this.node.appendChild(box);
    }
    const table = document.createElement('table');
    for (const p of task.parameters) {
      table.appendChild(this._row(p, texts[p.name] ?? initialText(p)));
    }
    if (task.parameters.length === 0) {
      const none = document.createElement('p');
      none.textContent = 'The task takes no parameters.';
      this.node.appendChild(none);
    }
    this.node.appendChild(table);
  }

  /** The texts of the editable fields. */
  getValue(): Texts {
    const texts: Texts = {};
    this.node.querySelectorAll('input[data-name]').forEach(el => {
      const input = el as HTMLInputElement;
      texts[input.dataset.name as string] = input.value;
    });
    return texts;
  }

  private _row(p: IParameter, text: string): HTMLTableRowElement {
    const row = document.createElement('tr');
    const label = document.createElement('th');
    label.textContent = p.annotation ? `${p.name}: ${p.annotation}` : p.name;
    const cell = document.createElement('td');
    if (p.json) {
      const input = document.createElement('input');
      input.type = 'text';
      input.className = 'jp-mod-styled';
      input.dataset.name = p.name;
      input.value = text;
      input.spellcheck = false;
      input.setAttribute('aria-label', p.name);
      cell.appendChild(input);
    } else {
      const code = document.createElement('code');
      code.textContent = String(p.value);
      code.title = 'Not JSON: kept as it is';
      cell.appendChild(code);
    }
    row.append(label, cell);
    return row;
  }
}

/** The changed inputs from the typed texts, or an error message. */
export function changedInputs(
  task: ITask,
  texts: Texts
): { inputs: Record<string, unknown> } | { error: string } {
  const inputs: Record<string, unknown> = {};
  for (const p of task.parameters) {
    const text = (texts[p.name] ?? '').trim();
    if (!p.json || text === initialText(p)) {
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return { error: `${p.name}: not valid JSON (${(e as Error).message})` };
    }
    if (JSON.stringify(value) !== JSON.stringify(p.value)) {
      inputs[p.name] = value;
    }
  }
  return { inputs };
}

/** The confirm step's body: the question, then the changed files with +/- counts. */
function confirmBody(question: string, files: IChangedFile[]): Widget {
  const body = new Widget();
  body.addClass('jp-InteractiveTask-confirm');
  const text = document.createElement('p');
  text.textContent = question;
  body.node.appendChild(text);
  const note = document.createElement('p');
  note.textContent = files.length
    ? `It runs with ${files.length} changed file${files.length === 1 ? '' : 's'} ` +
      "(the patch goes to the task's log):"
    : 'No source file changed since the task started.';
  body.node.appendChild(note);
  if (files.length) {
    const list = document.createElement('ul');
    list.className = 'jp-InteractiveTask-changes';
    for (const f of files) {
      const item = document.createElement('li');
      const name = document.createElement('code');
      name.textContent = f.path;
      item.append(name, ` +${f.added} \u2212${f.removed}`);
      list.appendChild(item);
    }
    body.node.appendChild(list);
  }
  return body;
}

/** Ask "Resume task train with epochs=1?", listing the changed files; true when confirmed. */
async function confirmResume(
  model: SessionModel,
  task: ITask,
  inputs: Record<string, unknown>
): Promise<boolean> {
  const what = Object.keys(inputs).length
    ? `with ${describeInputs(inputs)}`
    : 'with its original inputs';
  await model.refresh(); // the changed files the server sees now
  const files = model.changes;
  const result = await showDialog({
    title: 'Resume the task?',
    body: confirmBody(`Resume task ${task.qualname} ${what}?`, files),
    buttons: [
      Dialog.cancelButton({ label: 'Back' }),
      Dialog.okButton({ label: 'Resume' })
    ]
  });
  return result.button.accept;
}

/** Send the resume; answers null when accepted, else the message to show. */
async function sendResume(
  model: SessionModel,
  inputs: Record<string, unknown>
) {
  try {
    const reply = await postAPI(RESUME, { inputs, via: 'dialog' });
    model.noteResumed(
      Array.isArray(reply?.changes) ? reply.changes.length : null
    );
    return null;
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      await showErrorMessage('Cannot resume', error.message);
      return null;
    }
    return error instanceof ApiError
      ? error.message
      : `The server could not be reached: ${error}`;
  }
}

let open = false;

/** Run the Resume dialog for the session's task (one at a time). */
export async function resumeTask(model: SessionModel): Promise<void> {
  const task = model.task;
  if (!task || open || model.stopping) {
    return;
  }
  open = true;
  try {
    let texts: Texts = {};
    let error: string | null = null;
    for (;;) {
      const result = await new Dialog<Texts>({
        title: `Resume task ${task.qualname}`,
        body: new ResumeForm(task, texts, error),
        buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Resume…' })],
        focusNodeSelector: 'input'
      }).launch();
      if (!result.button.accept || model.stopping) {
        return;
      }
      texts = result.value ?? {};
      const changed = changedInputs(task, texts);
      if ('error' in changed) {
        error = changed.error;
        continue;
      }
      if (!(await confirmResume(model, task, changed.inputs))) {
        error = null;
        continue;
      }
      error = await sendResume(model, changed.inputs);
      if (error === null) {
        return;
      }
    }
  } finally {
    open = false;
  }
}
