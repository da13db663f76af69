import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditTrail } from '../components/AuditTrail';
import { auditEvent } from './fixtures';
import { json, serve, type Call } from './server';

function rowOf(id: number): HTMLElement {
  const row = document.querySelector<HTMLElement>(`[role="row"][data-id="${id}"]`);
  if (!row) throw new Error(`no row for event ${id}`);
  return row;
}

function audits(calls: Call[]): string[] {
  return calls.filter((call) => call.path === '/audit').map((call) => call.url);
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('AuditTrail', () => {
  it('shows time, actor, kind, subject, request id and the shortened hashes of each event', async () => {
    serve({
      'GET /audit': json(200, {
        events: [
          auditEvent(12, { kind: 'kill_switch', actor: 'ops-bot', subject: 'kill_switch', before_hash: null, after_hash: null, detail: { on: true, reason: 'incident 42' } }),
          auditEvent(11),
        ],
        next_before: null,
      }),
    });
    render(<AuditTrail virtualize={false} />);
    await waitFor(() => expect(document.querySelectorAll('[role="row"][data-id]')).toHaveLength(2));

    const revision = rowOf(11);
    expect(revision).toHaveTextContent('2026-11-25T10:11:00Z');
    expect(revision).toHaveTextContent('alice');
    expect(revision).toHaveTextContent('policy.revision');
    expect(revision).toHaveTextContent('policy r11');
    expect(revision).toHaveTextContent('req-11');
    expect(within(revision).getByText('e49d63b2 → a2ec8ada')).toBeInTheDocument();

    const kill = rowOf(12);
    expect(kill).toHaveTextContent('ops-bot');
    expect(within(kill).getByText('— → —')).toBeInTheDocument();
    expect(kill).toHaveTextContent('"reason":"incident 42"');
    expect(screen.getByRole('button', { name: 'Load older' })).toBeDisabled();
  });

  it('loads older events with next_before and the same filters, below the newer ones', async () => {
    const { calls } = serve({
      'GET /audit': (call) =>
        call.query.get('before') === '11'
          ? json(200, { events: [auditEvent(10), auditEvent(9)], next_before: null })
          : json(200, { events: [auditEvent(12), auditEvent(11)], next_before: 11 }),
    });
    render(<AuditTrail virtualize={false} />);
    await waitFor(() => expect(document.querySelectorAll('[role="row"][data-id]')).toHaveLength(2));

    fireEvent.change(screen.getByLabelText('Actor'), { target: { value: 'alice ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Apply filters' }));
    await waitFor(() => expect(audits(calls)).toEqual(['/audit', '/audit?actor=alice']));

    const older = screen.getByRole('button', { name: 'Load older' });
    await waitFor(() => expect(older).toBeEnabled());
    fireEvent.click(older);
    await waitFor(() => expect(document.querySelectorAll('[role="row"][data-id]')).toHaveLength(4));
    expect(audits(calls).at(-1)).toBe('/audit?actor=alice&before=11');
    const order = [...document.querySelectorAll('[role="row"][data-id]')].map((row) => row.getAttribute('data-id'));
    expect(order).toEqual(['12', '11', '10', '9']);
    await waitFor(() => expect(older).toBeDisabled());
    expect(screen.getByText(/4 events shown · the oldest is loaded/)).toBeInTheDocument();
  });

  it('filters by kind', async () => {
    const { calls } = serve({ 'GET /audit': json(200, { events: [], next_before: null }) });
    render(<AuditTrail virtualize={false} />);
    await waitFor(() => expect(audits(calls)).toHaveLength(1));
    fireEvent.mouseDown(screen.getByRole('combobox', { name: 'Kind' }));
    fireEvent.click(await screen.findByRole('option', { name: 'key.revoked' }));
    fireEvent.click(screen.getByRole('button', { name: 'Apply filters' }));
    await waitFor(() => expect(audits(calls)).toEqual(['/audit', '/audit?kind=key.revoked']));
  });

  it("shows the server's refusal", async () => {
    serve({ 'GET /audit': json(403, { error: 'forbidden', message: 'needs a better key', required_role: 'operator' }) });
    render(<AuditTrail virtualize={false} />);
    const notice = await screen.findByRole('alert');
    expect(notice).toHaveTextContent('403 forbidden');
    expect(notice).toHaveTextContent('This needs the operator role');
  });
});
