// What a simulated policy change would do, in the words the policy editor shows.
import { count, signedUsd } from './format';
import type { SimulatedOutcome, SimulationResult } from './types';

const HOUR_MS = 3_600_000;

function plural(n: number, one: string, many: string): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** "the last 24 h", "the last 7 days"; the window the server simulated over. */
export function windowPhrase(window: SimulationResult['window']): string {
  const span = Date.parse(window.until) - Date.parse(window.since);
  if (!Number.isFinite(span) || span <= 0) return 'the recorded window';
  const hours = Math.round(span / HOUR_MS);
  return hours <= 72 ? `the last ${hours} h` : `the last ${Math.round(hours / 24)} days`;
}

/** "This change reroutes 312 of 2,140 decisions from the last 24 h; +$4.10/day; 18 become denied." */
export function impactSentence(result: SimulationResult): string {
  const parts = [
    `This change reroutes ${count(result.changed_model)} of ${plural(result.total, 'decision', 'decisions')} from ${windowPhrase(result.window)}`,
    `${signedUsd(result.usd_per_day_change)}/day`,
    `${plural(result.became_denied, 'becomes', 'become')} denied`,
  ];
  const allowed = result.became_allowed > 0 ? `, ${plural(result.became_allowed, 'becomes', 'become')} allowed` : '';
  return `${parts.join('; ')}${allowed}.`;
}

/** Reason codes by how often they appear in the re-decided decisions, most first. */
export function reasonCounts(result: SimulationResult): [string, number][] {
  return Object.entries(result.by_reason).sort(([a, m], [b, n]) => n - m || a.localeCompare(b));
}

/** The models whose share moves, the biggest move first. */
export function modelShifts(result: SimulationResult): { model: string; before: number; after: number }[] {
  return Object.entries(result.by_model)
    .map(([model, { before, after }]) => ({ model, before, after }))
    .filter(({ before, after }) => before !== after)
    .sort((x, y) => Math.abs(y.after - y.before) - Math.abs(x.after - x.before) || x.model.localeCompare(y.model));
}

/** One side of an example: "local/smollm2 (qa-default)" or "denied: budget_exhausted". */
export function outcomeText(outcome: SimulatedOutcome): string {
  return outcome.allow ? `${outcome.model ?? '—'} (${outcome.rule ?? 'no rule'})` : `denied: ${outcome.denial ?? 'unknown'}`;
}

/** The examples shown at most. */
export const EXAMPLE_LIMIT = 5;
