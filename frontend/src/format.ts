/**
 * Texts shown to the person, in one place.
 */
import type { StopReason } from './api';
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
  const name = `Task ${model.taskName}`;
  if (model.stopping) {
    return model.stopReason === 'resumed'
      ? `${name} · resuming`
      : `${name} · stopping`;
  }
  if (model.unreachable) {
    return `${name} · no connection`;
  }
  if (status.idle.holds.length > 0) {
    return `${name} · kernel busy`;
  }
  const remaining = model.secondsRemaining;
  if (remaining === null) {
    return `${name} · no idle stop`;
  }
  return `${name} · stops in ${clock(remaining)}`;
}

/** The tooltip of the status item. */
export function statusTitle(model: SessionModel): string {
  const idle = model.status?.idle;
  const lines = ['Click to resume the task (this stops the server).'];
  if (idle?.holds.length) {
    lines.push(`The idle clock is held: ${idle.holds.join(', ')}.`);
  } else if (idle?.maxIdleSeconds) {
    lines.push(
      `The server stops after ${seconds(idle.maxIdleSeconds)} s without activity.`
    );
  }
  return lines.join('\n');
}

/** The final page's headline and detail for a stop reason. */
export function finalMessage(
  reason: StopReason | null,
  maxIdle: number | null
): string {
  switch (reason) {
    case 'resumed':
      return 'Task resumed: this server has stopped; the task runs in its own process';
    case 'idle':
      return `Stopped after ${seconds(maxIdle)} s without activity`;
    case 'lifetime':
      return 'Stopped: the session reached its lifetime cap';
    default:
      return 'This server has stopped';
  }
}

/** `epochs=1, lr=0.1` for changed inputs (JSON texts by name). */
export function describeInputs(inputs: Record<string, unknown>): string {
  return Object.entries(inputs)
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(', ');
}
