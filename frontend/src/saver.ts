/**
 * No lost edits: when the server starts stopping, save every open document with
 * unsaved changes, once, and report to `POST /interactive/saved`.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { IDocumentManager } from '@jupyterlab/docmanager';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { INotebookTracker } from '@jupyterlab/notebook';

import { postAPI } from './api';
import { SAVED } from './routes';
import type { SessionModel } from './model';

/** What a save round did. */
export interface ISaveReport {
  saved: string[];
  failed: { path: string; error: string }[];
}

/** The open documents' contexts: the main area's widgets and the notebooks. */
function openContexts(
  app: JupyterFrontEnd,
  docManager: IDocumentManager,
  notebooks: INotebookTracker | null
): DocumentRegistry.Context[] {
  const contexts = new Set<DocumentRegistry.Context>();
  for (const widget of app.shell.widgets('main')) {
    const context = docManager.contextForWidget(widget);
    if (context) {
      contexts.add(context);
    }
  }
  notebooks?.forEach(panel => contexts.add(panel.context));
  return [...contexts].filter(c => !c.isDisposed);
}

/** Save the dirty documents (in parallel) and say which were saved or failed. */
export async function saveDirty(
  app: JupyterFrontEnd,
  docManager: IDocumentManager,
  notebooks: INotebookTracker | null
): Promise<ISaveReport> {
  const dirty = openContexts(app, docManager, notebooks).filter(
    c => c.model.dirty
  );
  const results = await Promise.allSettled(dirty.map(c => c.save()));
  const report: ISaveReport = { saved: [], failed: [] };
  results.forEach((result, i) => {
    const path = dirty[i].path;
    if (result.status === 'fulfilled') {
      report.saved.push(path);
    } else {
      const reason = result.reason;
      report.failed.push({ path, error: String(reason?.message ?? reason) });
    }
  });
  return report;
}

/** Saves once when the model says the server is stopping. */
export class StopGuard {
  /** Guard the open documents of an app for a model's session. */
  constructor(
    private readonly _app: JupyterFrontEnd,
    private readonly _docManager: IDocumentManager,
    private readonly _notebooks: INotebookTracker | null,
    model: SessionModel
  ) {
    // a hidden tab with unsaved documents keeps reading the status, so that it is waited for
    model.keepAwakeWhile(() =>
      openContexts(_app, _docManager, _notebooks).some(c => c.model.dirty)
    );
    model.stoppingStarted.connect(() => void this._run(model));
    if (model.stopping) {
      void this._run(model);
    }
  }

  private async _run(model: SessionModel): Promise<void> {
    if (this._done) {
      return;
    }
    this._done = true;
    // the status is read again meanwhile: the server's words for the stop, before it goes
    const [report] = await Promise.all([
      saveDirty(this._app, this._docManager, this._notebooks),
      model.refresh()
    ]);
    console.info('interactive-ext: saved before the stop', report);
    try {
      await postAPI(SAVED, { client: model.clientId, ...report });
    } catch (error) {
      console.debug('interactive-ext: the save report was not taken', error);
    }
  }

  private _done = false;
}
