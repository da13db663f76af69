import { fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fetchSession } from '../api';
import { ExplainDrawer } from '../components/ExplainDrawer';
import {
  fromDecisionMessage,
  fromPlan,
  parseTraceLine,
  targetOfId,
  targetOfRun,
  targetOfView,
  type ExplainTarget,
} from '../explain';
import { EFFECTIVE, decisionRecord, plan, replayEqual, runReport, session } from './fixtures';
import { json, serve, type Routes } from './server';

const ops = session('ops-bot', EFFECTIVE.operator);

function drawer(target: ExplainTarget, records = true, retryDelayMs?: number): HTMLElement {
  render(<ExplainDrawer target={target} open onClose={() => undefined} records={records} retryDelayMs={retryDelayMs} />);
  return screen.getByTestId('explain-drawer');
}

/** The proxy with the record and the run of dec-7f3a, and the operator's session (for the CSRF token). */
async function recorded(extra: Routes = {}): Promise<ReturnType<typeof serve>> {
  const server = serve({
    'GET /session': json(200, ops),
    'GET /decisions/dec-7f3a': json(200, decisionRecord),
    'GET /runs/run_01J9': json(200, runReport),
    ...extra,
  });
  await fetchSession();
  return server;
}

function fieldValue(pane: HTMLElement, label: string): HTMLElement | null {
  return within(pane).getByText(label, { selector: 'span' }).nextElementSibling as HTMLElement | null;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('ExplainDrawer on a recorded decision', () => {
  it('shows the revision, rule, every candidate with its sentence, the counters read, the attempts, who served and the cost', async () => {
    await recorded();
    const pane = drawer(targetOfId('dec-7f3a'));

    expect(await within(pane).findByTestId('drawer-revision')).toHaveTextContent('r3-e49d63b2a8a78f04 · revision 3');
    expect(fieldValue(pane, 'Winning rule')).toHaveTextContent('qa-hosted-first');
    expect(fieldValue(pane, 'Model')).toHaveTextContent('hosted/gemini-1.5-pro');

    const candidates = within(pane).getByRole('list', { name: 'Candidate reasons' });
    expect(within(candidates).getAllByRole('listitem')).toHaveLength(3);
    for (const reason of decisionRecord.decision.reasons) {
      const item = candidates.querySelector(`[data-model="${reason.model}"]`) as HTMLElement;
      expect(item).toHaveAttribute('data-reason', reason.reason);
      expect(within(item).getByText(reason.detail)).toBeInTheDocument();
    }

    const counters = within(pane).getByRole('table', { name: 'Counters read' });
    const gemini = counters.querySelector('[data-model="hosted/gemini-1.5-pro"]') as HTMLElement;
    expect(gemini.querySelector('[data-field="rpm"]')).toHaveTextContent('12');
    expect(gemini.querySelector('[data-field="tpm"]')).toHaveTextContent('48,200');
    expect(gemini.querySelector('[data-field="usd_today"]')).toHaveTextContent('$1.25');
    const grok = counters.querySelector('[data-model="hosted/grok-code"]') as HTMLElement;
    expect(grok.querySelector('[data-field="cooling_down"]')).toHaveTextContent('yes');
    expect(grok.querySelector('[data-field="healthy"]')).toHaveTextContent('no');

    expect(await within(pane).findByTestId('drawer-serving-model')).toHaveTextContent('local/smollm2');
    expect(within(pane).getByText('fallback from hosted/gemini-1.5-pro')).toBeInTheDocument();
    expect(within(pane).getByTestId('drawer-cost')).toHaveTextContent('$0.000412');
    const attempts = within(within(pane).getByRole('table', { name: 'Attempts' })).getAllByRole('row').slice(1);
    expect(attempts.map((row) => row.getAttribute('data-outcome'))).toEqual(['http_error', 'ok']);
    expect(attempts[0]?.querySelector('[data-field="latency"]')).toHaveTextContent('812 ms');
    expect(attempts[1]?.querySelector('[data-field="latency"]')).toHaveTextContent('402 ms');
    expect(within(pane).getByText('Audit id').nextElementSibling).toHaveTextContent('run_01J9');
  });

  it('"Full trace" replays THE decision under its revision, with the CSRF token, and says it matches', async () => {
    const { calls } = await recorded({ 'POST /decisions/dec-7f3a/replay': json(200, replayEqual) });
    const pane = drawer(targetOfId('dec-7f3a'));
    await within(pane).findByTestId('drawer-revision');

    fireEvent.click(within(pane).getByRole('button', { name: 'Full trace' }));
    const chip = await within(pane).findByTestId('replay-equal');
    expect(chip).toHaveAttribute('data-equal', 'true');
    expect(chip).toHaveTextContent('replay under r3-e49d63b2a8a78f04 equals the recorded decision');
    const lines = within(within(pane).getByRole('list', { name: 'OPA trace' })).getAllByRole('listitem');
    expect(lines).toHaveLength(4);
    expect(lines[2]?.querySelector('.trace-location')).toHaveTextContent('policy/rego/gates.rego:41');
    expect(within(pane).getByRole('heading', { name: /^OPA full trace \(4 lines\)/ })).toBeInTheDocument();
    expect(within(pane).getByRole('button', { name: 'Full trace shown' })).toBeDisabled();

    const replays = calls.filter((call) => call.method === 'POST');
    expect(replays).toHaveLength(1);
    expect(replays[0]?.path).toBe('/decisions/dec-7f3a/replay');
    expect(replays[0]?.query.get('explain')).toBe('full');
    expect(replays[0]?.headers['X-CSRF-Token']).toBe('csrf-of-ops-bot');
    expect(calls.some((call) => call.path === '/route/plan')).toBe(false);
  });

  it('names the recorded revision when the replay answer does not', async () => {
    const { decision_id: _id, revision: _revision, ...bare } = replayEqual;
    await recorded({ 'POST /decisions/dec-7f3a/replay': json(200, { ...bare, recorded: decisionRecord.decision }) });
    const pane = drawer(targetOfId('dec-7f3a'));
    await within(pane).findByTestId('drawer-revision');
    fireEvent.click(within(pane).getByRole('button', { name: 'Full trace' }));
    expect(await within(pane).findByTestId('replay-equal')).toHaveTextContent(
      'replay under r3-e49d63b2a8a78f04 equals the recorded decision',
    );
  });

  it('says when the replay differs, and lists how', async () => {
    const differs = {
      ...replayEqual,
      equal: false,
      differences: ['model: hosted/gemini-1.5-pro → local/smollm2', 'rule: qa-hosted-first → qa-default'],
    };
    await recorded({ 'POST /decisions/dec-7f3a/replay': json(200, differs) });
    const pane = drawer(targetOfId('dec-7f3a'));
    await within(pane).findByTestId('drawer-revision');
    fireEvent.click(within(pane).getByRole('button', { name: 'Full trace' }));
    expect(await within(pane).findByTestId('replay-equal')).toHaveAttribute('data-equal', 'false');
    expect(within(pane).getByTestId('replay-equal')).toHaveTextContent('differs from the recorded decision');
    const differences = within(within(pane).getByRole('list', { name: 'Differences' })).getAllByRole('listitem');
    expect(differences.map((item) => item.textContent)).toEqual(differs.differences);
  });

  it('asks once more a second later for a decision not recorded yet, and shows it when it is', async () => {
    let asked = 0;
    const { calls } = await recorded({
      'GET /decisions/dec-7f3a': () => (++asked === 1 ? json(404, { error: 'not_found' }) : json(200, decisionRecord)),
    });
    const pane = drawer(targetOfId('dec-7f3a'), true, 20);
    expect(await within(pane).findByTestId('drawer-revision')).toHaveTextContent('revision 3');
    expect(calls.filter((call) => call.path === '/decisions/dec-7f3a')).toHaveLength(2);
  });

  it('says "not recorded yet" when the retry a second later is still 404', async () => {
    const times: number[] = [];
    await recorded({
      'GET /decisions/dec-7f3a': () => {
        times.push(Date.now());
        return json(404, { error: 'not_found', message: 'no such decision' });
      },
    });
    const pane = drawer(targetOfId('dec-7f3a'));
    expect(within(pane).getByRole('status')).toHaveTextContent('Loading the record of decision dec-7f3a');
    const notice = await within(pane).findByText(/is not recorded yet/, {}, { timeout: 3000 });
    expect(notice.closest('[data-record]')).toHaveAttribute('data-record', 'not_recorded');
    expect(times).toHaveLength(2);
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(950);
    expect(within(pane).queryByRole('button', { name: 'Full trace' })).toBeNull();
  });

  it('shows a failed read as an error, not as "not recorded"', async () => {
    await recorded({ 'GET /decisions/dec-7f3a': json(503, { error: 'store_unavailable', message: 'the decision store is down' }) });
    const pane = drawer(targetOfId('dec-7f3a'));
    const notice = await within(pane).findByRole('alert');
    expect(notice).toHaveTextContent('503 store_unavailable');
    expect(notice).toHaveTextContent('The decision record could not be read.');
  });

  it('says a planned decision has no run, and shows the plan notes until the full trace is asked for', async () => {
    const { calls } = await recorded({
      'GET /decisions/5c0f0c7e-decision': json(200, { ...decisionRecord, decision_id: '5c0f0c7e-decision', source: 'plan', audit_id: null }),
    });
    const pane = drawer(targetOfView(fromPlan(plan)));
    expect(await within(pane).findByTestId('drawer-revision')).toHaveTextContent('r3-e49d63b2a8a78f04');
    expect(within(pane).getByText('No run: this decision was not executed.')).toBeInTheDocument();
    expect(within(within(pane).getByRole('list', { name: 'OPA trace' })).getAllByRole('listitem')).toHaveLength(3);
    expect(within(pane).getByRole('button', { name: 'Full trace' })).toBeEnabled();
    expect(calls.some((call) => call.path.startsWith('/runs/'))).toBe(false);
  });
});

describe('ExplainDrawer opened from a run', () => {
  const summary = {
    audit_id: 'run_01J9',
    decision_id: 'dec-7f3a',
    latency_ms: 1214.1,
    model: 'local/smollm2',
    rule: 'qa-hosted-first',
    output: { text: 'Hello!' },
    usage: { prompt_tokens: 310, completion_tokens: 42, total_tokens: 352, estimated: false },
    cost_usd: 0.000412,
    attempts: runReport.attempts,
  };

  it('takes the run from the summary and reads the decision record', async () => {
    const { calls } = await recorded();
    const pane = drawer(targetOfRun(summary));
    expect(within(pane).getByTestId('drawer-serving-model')).toHaveTextContent('local/smollm2');
    expect(await within(pane).findByTestId('drawer-revision')).toHaveTextContent('revision 3');
    expect(within(pane).getByText('fallback from hosted/gemini-1.5-pro')).toBeInTheDocument();
    expect(within(pane).getByTestId('drawer-cost')).toHaveTextContent('$0.000412');
    expect(calls.some((call) => call.path.startsWith('/runs/'))).toBe(false);
  });
});

describe('ExplainDrawer without decision records (a client key)', () => {
  it('shows the plan as answered, and reads nothing', () => {
    const { calls } = serve({});
    const pane = drawer(targetOfView(fromPlan(plan)), false);

    expect(fieldValue(pane, 'Winning rule')).toHaveTextContent('qa-default');
    expect(fieldValue(pane, 'Model')).toHaveTextContent('local/smollm2');
    expect(within(pane).getByTestId('drawer-revision')).toHaveTextContent('revision 3');
    const candidates = within(pane).getByRole('list', { name: 'Candidate reasons' });
    for (const reason of plan.decision.reasons) {
      const item = candidates.querySelector(`[data-model="${reason.model}"]`) as HTMLElement;
      expect(within(item).getByText(reason.detail)).toBeInTheDocument();
    }
    const lines = within(within(pane).getByRole('list', { name: 'OPA trace' })).getAllByRole('listitem');
    expect(lines[1]?.querySelector('.trace-location')).toHaveTextContent('policy/rego/router.rego:132');
    expect(lines[1]).toHaveTextContent('Note "rule qa-default matched"');
    expect(within(pane).queryByRole('button', { name: 'Full trace' })).toBeNull();
    expect(calls).toHaveLength(0);
  });

  it('shows a denial from a live event and says live events carry no trace', () => {
    serve({});
    const view = fromDecisionMessage({
      type: 'decision',
      at: '2026-11-25T10:00:00Z',
      source: 'execute',
      decision_id: 'd-2',
      audit_id: null,
      task: 'code',
      loa: 3,
      risk: 'high',
      allow: false,
      model: null,
      rule: null,
      denial: 'kill_switch',
      reasons: [{ model: 'hosted/grok-code', reason: 'window_closed', detail: 'outside 08:00-20:00' }],
    });
    const pane = drawer(targetOfView(view), false);
    expect(within(pane).getByText('✖ denied')).toBeInTheDocument();
    expect(fieldValue(pane, 'Denial')).toHaveTextContent('kill_switch');
    expect(within(pane).getByText('window_closed')).toBeInTheDocument();
    expect(within(pane).getByText('Live events carry no trace.')).toBeInTheDocument();
  });
});

describe('parseTraceLine', () => {
  it('splits the Rego file:row from the rest', () => {
    expect(parseTraceLine('policy/rego/gates.rego:7  | Exit x')).toEqual({
      location: 'policy/rego/gates.rego:7',
      text: '| Exit x',
    });
    expect(parseTraceLine('query:1  Enter data.x')).toEqual({ location: null, text: 'query:1  Enter data.x' });
  });
});
