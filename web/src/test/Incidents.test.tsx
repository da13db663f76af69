import { render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Incidents, type Incident } from '../components/Incidents';
import { json, serve } from './server';

function incident(id: number, overrides: Partial<Incident> = {}): Incident {
  return {
    id,
    fingerprint: `3f1c2b4a5d6e7f8${id}`,
    alertname: 'ProviderThrottling',
    severity: 'warning',
    model: 'hosted/gemini-1.5-pro',
    state: 'firing',
    summary: 'The upstream provider is throttling a model (HTTP 429).',
    runbook_url: 'http://127.0.0.1:8787/docs/runbooks.md#provider-429s',
    notifications: 2,
    github: { number: 7, url: 'https://github.com/acme/ops/issues/7' },
    jira: { key: 'OPS-12', url: 'https://acme.atlassian.net/browse/OPS-12' },
    silence_id: 'c970afed-d25b-4d9a-b94f-6ff6dd836d0c',
    last_event: 'GitHub ticket 7: repeat commented',
    last_event_at: '2026-11-27T10:04:00+00:00',
    opened_at: '2026-11-27T10:00:00+00:00',
    work: { pending: 0, failed: 0 },
    problem: null,
    ...overrides,
  };
}

function rowOf(id: number): HTMLElement {
  const row = document.querySelector<HTMLElement>(`[data-incident="${id}"]`);
  if (!row) throw new Error(`no row for incident ${id}`);
  return row;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('Incidents', () => {
  it('lists open incidents with their ticket links, state and last event', async () => {
    const { calls } = serve({
      'GET /incidents': json(200, {
        incidents: [
          incident(2),
          incident(1, {
            alertname: 'BudgetCritical',
            severity: 'critical',
            github: null,
            jira: null,
            silence_id: null,
            notifications: 1,
            last_event: 'open failed: GitHub: GitHub refused the credentials (401)',
            work: { pending: 0, failed: 2 },
            problem: 'GitHub: GitHub refused the credentials (401)',
          }),
        ],
        targets: ['github', 'jira'],
        pending_work: 0,
      }),
    });
    render(<Incidents />);
    await waitFor(() => expect(document.querySelectorAll('[data-incident]')).toHaveLength(2));
    expect(calls.map((c) => c.url)).toContain('/incidents?state=open&limit=50');

    const throttled = rowOf(2);
    expect(within(throttled).getByRole('link', { name: 'GitHub #7' })).toHaveAttribute('href', 'https://github.com/acme/ops/issues/7');
    expect(within(throttled).getByRole('link', { name: 'Jira OPS-12' })).toHaveAttribute(
      'href',
      'https://acme.atlassian.net/browse/OPS-12',
    );
    expect(within(throttled).getByRole('link', { name: 'runbook' })).toHaveAttribute(
      'href',
      'http://127.0.0.1:8787/docs/runbooks.md#provider-429s',
    );
    expect(throttled).toHaveTextContent('ProviderThrottling · hosted/gemini-1.5-pro');
    expect(throttled).toHaveTextContent('firing');
    expect(throttled).toHaveTextContent('muted');
    expect(throttled).toHaveTextContent('GitHub ticket 7: repeat commented');
    expect(throttled).toHaveTextContent('2026-11-27 10:04:00 UTC · 2 notifications');

    const budget = rowOf(1);
    expect(within(budget).queryAllByRole('link', { name: /GitHub|Jira/ })).toHaveLength(0);
    expect(budget).toHaveTextContent('2 failed');
    expect(budget).not.toHaveTextContent('muted');
    expect(budget).toHaveTextContent('1 notification');
  });

  it('says when nothing is open, and when tickets are off', async () => {
    serve({ 'GET /incidents': json(200, { incidents: [], targets: [], pending_work: 0 }) });
    render(<Incidents />);
    expect(await screen.findByText(/No open incident\. Tickets are off/)).toBeInTheDocument();
  });

  it('shows the server error of a refused read', async () => {
    serve({
      'GET /incidents': json(403, { error: 'forbidden', message: 'this needs the operator role', required_role: 'operator' }),
    });
    render(<Incidents />);
    expect(await screen.findByText(/operator role/)).toBeInTheDocument();
  });
});
