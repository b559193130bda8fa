/**
 * Texts shown to the person that the server does not write.
 *
 * The state's words (`stops in`, `kernel busy`, …) and the final page's come
 * from `GET /interactive/status` (`summary`, `why`): the page at /interactive
 * and `jupyter interactive-task list` print the same. Here: the countdown's
 * format, and what only the page knows (no connection, the tooltip).
 */
import type { SessionModel } from './model';

/** `12:34` or `1:02:03` for a number of seconds (rounded up). */
export function clock(seconds: number): string {
  const total = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
}

/** A number of seconds as people write it: `120`, `1.5`. */
export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) {
    return '?';
  }
  return Number.isInteger(value)
    ? String(value)
    : String(Math.round(value * 10) / 10);
}

/** The status item's text: `Task train · stops in 12:34`, or null when hidden. */
export function statusText(model: SessionModel): string | null {
  const status = model.status;
  if (!status || !status.task) {
    return null;
  }
  const name = status.task.parked ?? `Task ${model.taskName}`;
  if (model.unreachable && !model.stopping) {
    return `${name} · no connection`;
  }
  if (model.stopping && status.state === 'waiting') {
    return name; // the server's words for the stop are on their way
  }
  const remaining = model.secondsRemaining;
  const countdown = remaining === null ? '' : ` ${clock(remaining)}`;
  return `${name} · ${status.summary}${countdown}`;
}

/** The tooltip of the status item. */
export function statusTitle(model: SessionModel): string {
  const idle = model.status?.idle;
  const lines = ['Click to resume the task (this stops the server).'];
  const resume = model.status?.task?.parked_resume;
  if (resume) {
    lines.push(`Parked session: ${resume}.`);
  }
  if (idle?.holds.length) {
    lines.push(`The idle clock is held: ${idle.holds.join(', ')}.`);
  } else if (idle?.maxIdleSeconds) {
    lines.push(
      `The server stops after ${seconds(idle.maxIdleSeconds)} s without activity.`
    );
  }
  return lines.join('\n');
}

/** The final page's message: the server's words for the stop, when it said them. */
export function finalMessage(model: SessionModel): string {
  return model.status?.why ?? 'This server has stopped';
}

/** `epochs=1, lr=0.1` for changed inputs (JSON texts by name). */
export function describeInputs(inputs: Record<string, unknown>): string {
  return Object.entries(inputs)
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(', ');
}
