/**
 * The names the server and this extension share, as interactive_ext/protocol.py
 * writes them (tests/unit/test_routes.py checks that both say the same).
 */

/** The extension's name: its routes live under `/interactive/`. */
export const EXTENSION = 'interactive';
export const RESUME = 'resume';
export const HEARTBEAT = 'heartbeat';
export const STATUS = 'status';
export const SAVED = 'saved';
export const PAGE = '';

/** The lifecycle events' schema id. */
export const LIFECYCLE =
  'https://events.jupyter.org/interactive_ext/lifecycle/v1';

/** The path of one of the extension's endpoints, relative to the server's base URL. */
export function route(endpoint: string): string {
  return endpoint ? `${EXTENSION}/${endpoint}` : EXTENSION;
}
