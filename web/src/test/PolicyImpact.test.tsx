import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { createRef } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fetchSession } from '../api';
import { PolicyEditor } from '../components/PolicyEditor';
import { impactSentence, windowPhrase } from '../impact';
import { EFFECTIVE, policyV3, policyV4, session, simulation } from './fixtures';
import { json, serve, type Routes } from './server';

const gov = session('gov', EFFECTIVE.governor);

async function editorWith(extra: Routes): Promise<{ calls: ReturnType<typeof serve>['calls']; textarea: HTMLTextAreaElement }> {
  const server = serve({
    'GET /session': json(200, gov),
    'GET /policy': json(200, policyV3),
    'GET /policy/history': json(200, { versions: [policyV3] }),
    ...extra,
  });
  await fetchSession();
  render(<PolicyEditor editorRef={createRef()} announcedVersion={null} />);
  const textarea = screen.getByLabelText<HTMLTextAreaElement>('Policy document (JSON)');
  await waitFor(() => expect(textarea.value).toContain('local/a'));
  return { calls: server.calls, textarea };
}

function edit(textarea: HTMLTextAreaElement, from: string, to: string): void {
  fireEvent.change(textarea, { target: { value: textarea.value.replace(from, to) } });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('Preview impact', () => {
  it('simulates the edited document and says what it would change, in exact numbers', async () => {
    const { calls, textarea } = await editorWith({ 'POST /policy/simulate': json(200, simulation) });
    edit(textarea, '"rpm_cap": 10', '"rpm_cap": 11');
    fireEvent.click(screen.getByRole('button', { name: 'Preview impact' }));

    expect(await screen.findByTestId('simulate-summary')).toHaveTextContent(
      'This change reroutes 312 of 2,140 decisions from the last 24 h; +$4.10/day; 18 become denied.',
    );
    const [simulate] = calls.filter((call) => call.method === 'POST');
    expect(simulate?.path).toBe('/policy/simulate');
    expect(simulate?.body).toEqual({ document: { ...policyV3.document, models: [{ name: 'local/a', rpm_cap: 11 }] } });
    expect(simulate?.headers['X-CSRF-Token']).toBe('csrf-of-gov');
    expect(calls.some((call) => call.method === 'PUT')).toBe(false);

    const reasons = screen.getByRole('list', { name: 'By reason' });
    expect(within(reasons).getAllByRole('listitem').map((item) => item.textContent)).toEqual([
      'chosen: 2,081',
      'budget_exhausted: 18',
      'cooling_down: 7',
    ]);
    const models = screen.getByRole('list', { name: 'By model' });
    expect(within(models).getAllByRole('listitem').map((item) => item.textContent)).toEqual([
      'local/smollm2: 1,699 → 1,369',
      'hosted/gemini-1.5-pro: 400 → 712',
    ]);
  });

  it('lists at most five example diffs, on demand', async () => {
    const { textarea } = await editorWith({ 'POST /policy/simulate': json(200, simulation) });
    edit(textarea, '"rpm_cap": 10', '"rpm_cap": 11');
    fireEvent.click(screen.getByRole('button', { name: 'Preview impact' }));
    const toggle = await screen.findByRole('button', { name: 'Show 5 example decisions' });
    expect(toggle).toHaveAttribute('aria-expanded', 'false');
    fireEvent.click(toggle);
    expect(screen.getByRole('button', { name: 'Hide 5 example decisions' })).toHaveAttribute('aria-expanded', 'true');
    const examples = [...screen.getByRole('list', { name: 'Example decisions' }).querySelectorAll(':scope > li')];
    expect(examples.map((item) => item.getAttribute('data-decision-id'))).toEqual([
      'dec-sim-0',
      'dec-sim-1',
      'dec-sim-2',
      'dec-sim-3',
      'dec-sim-4',
    ]);
    expect(examples[0]?.querySelector('[data-side="before"]')).toHaveTextContent('local/smollm2 (qa-default)');
    expect(examples[0]?.querySelector('[data-side="after"]')).toHaveTextContent('denied: budget_exhausted');
    expect(examples[1]?.querySelector('[data-side="after"]')).toHaveTextContent('hosted/gemini-1.5-pro (qa-default)');
    expect(examples[0]).toHaveTextContent('example 0 detail');
  });

  it('shows a candidate that does not compile like a validation error, and simulates nothing', async () => {
    const errors = [
      { field: '$.models[0].rpm_cap', message: '0 is less than the minimum of 1' },
      { field: 'guards/pii.rego:8:2', message: 'rego_parse_error: unexpected eof' },
    ];
    const { textarea } = await editorWith({
      'POST /policy/simulate': json(422, { error: 'policy_invalid', message: '2 error(s) in the policy', errors }),
    });
    edit(textarea, '"rpm_cap": 10', '"rpm_cap": 0');
    fireEvent.click(screen.getByRole('button', { name: 'Preview impact' }));

    const notice = await screen.findByRole('alert');
    expect(notice).toHaveAttribute('data-error', 'policy_invalid');
    const list = within(notice).getByRole('list', { name: 'Field errors' });
    for (const error of errors) expect(list.querySelector(`[data-field="${error.field}"]`)).toHaveTextContent(error.message);
    expect(notice).toHaveTextContent('Nothing was simulated.');
    expect(screen.queryByTestId('simulate-summary')).toBeNull();
  });

  it('marks the preview stale after a further edit, and Save keeps showing the latest one', async () => {
    const { textarea } = await editorWith({
      'POST /policy/simulate': json(200, simulation),
      'PUT /policy': json(200, { ...policyV4, document: { ...policyV3.document, models: [{ name: 'local/a', rpm_cap: 11 }] } }),
    });
    edit(textarea, '"rpm_cap": 10', '"rpm_cap": 12');
    fireEvent.click(screen.getByRole('button', { name: 'Preview impact' }));
    await screen.findByTestId('simulate-summary');
    const region = screen.getByRole('region', { name: 'Impact preview' });
    expect(region.querySelector('[data-stale]')).toHaveAttribute('data-stale', 'false');

    edit(textarea, '"rpm_cap": 12', '"rpm_cap": 11');
    expect(region.querySelector('[data-stale]')).toHaveAttribute('data-stale', 'true');
    expect(within(region).getByText('preview of an earlier edit')).toBeInTheDocument();

    fireEvent.click(screen.getByRole('button', { name: 'Preview impact' }));
    await waitFor(() => expect(screen.getByRole('region', { name: 'Impact preview' }).querySelector('[data-stale]')).toHaveAttribute('data-stale', 'false'));
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText(/Saved as version 4/)).toBeInTheDocument();
    expect(screen.getByTestId('simulate-summary')).toHaveTextContent('reroutes 312 of 2,140 decisions');
    expect(screen.getByRole('region', { name: 'Impact preview' }).querySelector('[data-stale]')).toHaveAttribute('data-stale', 'false');
  });
});

describe('impact wording', () => {
  it('says the window, the money with its sign, and who becomes allowed only when anyone does', () => {
    expect(windowPhrase({ since: '2026-11-18T10:00:00Z', until: '2026-11-25T10:00:00Z' })).toBe('the last 7 days');
    expect(
      impactSentence({ ...simulation, total: 1, changed_model: 1, became_denied: 1, became_allowed: 2, usd_per_day_change: -0.25 }),
    ).toBe('This change reroutes 1 of 1 decision from the last 24 h; -$0.25/day; 1 becomes denied, 2 become allowed.');
  });
});
