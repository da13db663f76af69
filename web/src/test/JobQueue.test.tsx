import { render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { JobQueue, nextStarts, type JobSummary, type Waiting } from '../components/JobQueue';
import { json, serve } from './server';

function expiredJob(id: string, reason: string, detail: string): JobSummary {
  return {
    job_id: id,
    state: 'expired',
    owner: 'batch-bot',
    created_at: '2026-11-20T22:30:00.000+00:00',
    deadline: '2026-11-23T08:30:00.000+00:00',
    planned_start: '2026-11-23T08:00:00.000+00:00',
    planned_model: 'hosted/alpha',
    reasons: [{ model: 'hosted/alpha', reason, detail }],
    audit_id: 'run_20261123T080000Z_0123456789ab',
  };
}

const WAITING: Waiting = {
  'hosted/grok-code': { queued: 3, next_planned_start: '2026-11-30T07:00:00.000+00:00' },
  'local/smollm2': { queued: 1, next_planned_start: '2026-11-28T00:00:00.000+00:00' },
};

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('JobQueue', () => {
  it('shows jobs by state, the next planned start per model and the expired jobs with reasons', async () => {
    const { calls } = serve({
      'GET /status/queue.json': (call) =>
        call.query.get('state') === 'expired'
          ? json(200, {
              jobs: [expiredJob('job_a', 'window_closed', 'opens 10:00 Mon–Fri Europe/Berlin, in 1 h')],
              next_before: null,
            })
          : json(200, { jobs: [], next_before: null, counts: { queued: 4, done: 7, expired: 1 }, waiting: WAITING }),
    });
    const onWaiting = vi.fn();
    render(<JobQueue onWaiting={onWaiting} />);

    const states = await screen.findByLabelText('Jobs by state');
    expect(within(states).getByText('queued 4')).toBeInTheDocument();
    expect(within(states).getByText('done 7')).toBeInTheDocument();
    expect(within(states).getByText('running 0')).toBeInTheDocument();
    const starts = screen.getByRole('table', { name: 'Next planned starts' });
    const rows = within(starts).getAllByRole('row').slice(1);
    expect(rows.map((row) => row.getAttribute('data-model'))).toEqual(['local/smollm2', 'hosted/grok-code']);
    expect(rows[1]).toHaveTextContent('3');
    expect(rows[1]).toHaveTextContent('2026-11-30 07:00:00 UTC');
    const expired = screen.getByRole('list', { name: 'Expired jobs' });
    expect(expired).toHaveTextContent('job_a');
    expect(expired).toHaveTextContent('window_closed: opens 10:00 Mon–Fri Europe/Berlin, in 1 h');
    expect(onWaiting).toHaveBeenCalledWith(WAITING);
    expect(calls.map((call) => call.url).sort()).toEqual(['/status/queue.json?limit=1', '/status/queue.json?state=expired&limit=20']);
  });

  it('says when nothing waits or expired, and shows a refusal as the server gave it', async () => {
    serve({ 'GET /status/queue.json': json(200, { jobs: [], next_before: null, counts: {}, waiting: {} }) });
    const { unmount } = render(<JobQueue />);
    expect(await screen.findByText('No job is waiting.')).toBeInTheDocument();
    expect(screen.getByText('No job has expired.')).toBeInTheDocument();
    unmount();

    serve({ 'GET /status/queue.json': json(403, { error: 'forbidden', message: 'this key lacks the operator role' }) });
    render(<JobQueue />);
    await waitFor(() => expect(document.querySelector('[data-error="forbidden"]')).not.toBeNull());
  });

  it('orders models by their soonest start, waiting work without a start last', () => {
    const order = nextStarts({
      b: { queued: 1, next_planned_start: null },
      a: { queued: 2, next_planned_start: '2026-11-24T00:00:00Z' },
      c: { queued: 1, next_planned_start: '2026-11-23T00:00:00Z' },
    }).map(([model]) => model);
    expect(order).toEqual(['c', 'a', 'b']);
  });
});
