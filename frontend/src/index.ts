/**
 * interactive-ext: JupyterLab 4 / Notebook 7 view of an interactive task's session.
 *
 * Thin by design: it shows what `GET /interactive/status` says and sends what the
 * REST API takes. When the server serves no task, it shows nothing.
 */
import type {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ConnectionLost, IConnectionLost } from '@jupyterlab/application';
import { ICommandPalette, ToolbarButton } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { NotebookPanel } from '@jupyterlab/notebook';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';
import type { IDisposable } from '@lumino/disposable';

import { ActivityReporter } from './activity';
import { showFinalView } from './finalview';
import { IInteractiveSession, SessionModel } from './model';
import { resumeTask } from './resume';
import { StopGuard } from './saver';
import { SessionIndicator } from './status';
import { IdleWarning } from './warning';

/** The extension's command ids. */
export namespace CommandIDs {
  export const resume = 'interactive-task:resume';
  export const keepWorking = 'interactive-task:keep-working';
}

/** The palette category. */
const CATEGORY = 'Interactive task';

/** The session model: polls the status, listens to the lifecycle events. */
const sessionPlugin: JupyterFrontEndPlugin<SessionModel> = {
  id: 'interactive-ext:session',
  description:
    "Provides the interactive task's session as the server reports it.",
  autoStart: true,
  provides: IInteractiveSession,
  activate: (app: JupyterFrontEnd): SessionModel => {
    const model = new SessionModel(app.serviceManager.events ?? null);
    model.start();
    return model;
  }
};

/** The final view, and the connection-lost handler that defers to it. */
const connectionLostPlugin: JupyterFrontEndPlugin<IConnectionLost> = {
  id: 'interactive-ext:connection-lost',
  description:
    'Shows the final page once the session stopped; else the default dialog.',
  autoStart: true,
  requires: [IInteractiveSession],
  provides: IConnectionLost,
  activate: (app: JupyterFrontEnd, model: SessionModel): IConnectionLost => {
    model.serverStopped.connect((_, reason) => showFinalView(model, reason));
    return async (manager, err, translator) => {
      if (model.noteConnectionLost()) {
        return; // the session stopped: the final view says so
      }
      return ConnectionLost(manager, err, translator);
    };
  }
};

/** The status item (status bar in JupyterLab, top area in Notebook 7). */
const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: 'interactive-ext:status',
  description:
    'Shows the task and the idle countdown; a click opens the Resume dialog.',
  autoStart: true,
  requires: [IInteractiveSession],
  optional: [IStatusBar],
  activate: (
    app: JupyterFrontEnd,
    model: SessionModel,
    statusBar: IStatusBar | null
  ) => {
    const indicator = new SessionIndicator(model, () => {
      void app.commands.execute(CommandIDs.resume);
    });
    if (statusBar) {
      statusBar.registerStatusItem(statusPlugin.id, {
        item: indicator,
        align: 'left',
        rank: -100,
        isActive: () => indicator.active,
        activeStateChanged: model.changed
      });
    } else {
      indicator.id = 'jp-InteractiveTask-top';
      app.shell.add(indicator, 'top', { rank: 1000 });
    }
  }
};

/** A "Resume task…" button in each notebook's toolbar. */
class ResumeButton implements DocumentRegistry.IWidgetExtension<
  NotebookPanel,
  any
> {
  /** Make the extension for an app's commands and a model. */
  constructor(
    private readonly _app: JupyterFrontEnd,
    private readonly _model: SessionModel
  ) {}

  /** Add the button to a new notebook panel. */
  createNew(panel: NotebookPanel): IDisposable {
    const button = new ToolbarButton({
      className: 'jp-InteractiveTask-resumeButton',
      label: 'Resume task…',
      tooltip: 'Stop this server and run the task with its inputs',
      onClick: () => void this._app.commands.execute(CommandIDs.resume)
    });
    const update = () =>
      button.setHidden(!this._model.task || this._model.stopping);
    update();
    this._model.changed.connect(update);
    button.disposed.connect(() => this._model.changed.disconnect(update));
    panel.toolbar.insertItem(10, 'interactiveResume', button);
    return button;
  }
}

/** The Resume and Keep working commands, in the palette and a notebook toolbar button. */
const commandsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'interactive-ext:commands',
  description: 'Adds the Resume task… and Keep working commands.',
  autoStart: true,
  requires: [IInteractiveSession],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    model: SessionModel,
    palette: ICommandPalette | null
  ) => {
    const available = () => !!model.task && !model.stopping;
    app.commands.addCommand(CommandIDs.resume, {
      label: 'Resume task…',
      caption:
        'Stop this server and run the task with its (possibly changed) inputs',
      isEnabled: available,
      execute: () => resumeTask(model)
    });
    app.commands.addCommand(CommandIDs.keepWorking, {
      label: 'Keep working (put off the idle stop)',
      caption: 'Count as activity: the idle countdown starts again',
      isEnabled: available,
      execute: () => model.heartbeat()
    });
    let wasAvailable = available();
    model.changed.connect(() => {
      if (available() !== wasAvailable) {
        wasAvailable = available();
        app.commands.notifyCommandChanged();
      }
    });
    palette?.addItem({ command: CommandIDs.resume, category: CATEGORY });
    palette?.addItem({ command: CommandIDs.keepWorking, category: CATEGORY });
    app.docRegistry.addWidgetExtension(
      'Notebook',
      new ResumeButton(app, model)
    );
  }
};

/** A plugin that needs the session model only: start makes what it adds of it. */
function modelPlugin(
  id: string,
  description: string,
  start: (app: JupyterFrontEnd, model: SessionModel) => void
): JupyterFrontEndPlugin<void> {
  return {
    id,
    description,
    autoStart: true,
    requires: [IInteractiveSession],
    activate: start
  };
}

/** The idle warning dialog. */
const warningPlugin = modelPlugin(
  'interactive-ext:idle-warning',
  'Warns once per approach to the idle deadline.',
  (app, model) => {
    new IdleWarning(model, () => void app.commands.execute(CommandIDs.resume));
  }
);

/** Typing, clicking and scrolling in the page count as activity. */
const activityPlugin = modelPlugin(
  'interactive-ext:activity',
  "Sends throttled heartbeats on a person's input in the page.",
  (_app, model) => {
    new ActivityReporter(model);
  }
);

/** No lost edits: save dirty documents when the server starts stopping. */
const saveGuardPlugin: JupyterFrontEndPlugin<void> = {
  id: 'interactive-ext:save-guard',
  description:
    'Saves every document with unsaved changes when the server starts stopping.',
  autoStart: true,
  requires: [IInteractiveSession, IDocumentManager],
  optional: [INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    model: SessionModel,
    docManager: IDocumentManager,
    notebooks: INotebookTracker | null
  ) => {
    new StopGuard(app, docManager, notebooks, model);
  }
};

export default [
  sessionPlugin,
  connectionLostPlugin,
  statusPlugin,
  commandsPlugin,
  warningPlugin,
  activityPlugin,
  saveGuardPlugin
];
