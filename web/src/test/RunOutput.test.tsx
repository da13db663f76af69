import { fireEvent, render, screen, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { ConnectionStatus } from '../components/ConnectionStatus';
import { RunOutput } from '../components/RunOutput';

describe('RunOutput', () => {
  it('shows streamed text while running, then the audit id, model, tokens, cost and attempts', () => {
    const { rerender } = render(<RunOutput output="Hel" running summary={null} failure={null} />);
    expect(screen.getByRole('log', { name: 'Execution log' })).toHaveTextContent('Hel');
    rerender(
      <RunOutput
        output="Hello!"
        running={false}
        failure={null}
        summary={{
          audit_id: 'run_01J',
          decision_id: 'd',
          latency_ms: 412.5,
          model: 'local/smollm2',
          rule: 'qa-default',
          output: { text: 'Hello!' },
          usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17, estimated: false },
          cost_usd: 0.0012,
          attempts: [
            { model: 'hosted/gemini-1.5-pro', outcome: 'connection_error', status: null, latency_ms: 1.2, detail: 'refused' },
            { model: 'local/smollm2', outcome: 'ok', status: 200, latency_ms: 400.1, detail: '' },
          ],
        }}
      />,
    );
    const summary = screen.getByRole('group', { name: 'Run summary' });
    expect(summary).toHaveTextContent('run_01J');
    expect(summary).toHaveTextContent('12 in · 5 out');
    expect(summary).toHaveTextContent('$0.001200');
    const attempts = within(summary).getAllByRole('listitem');
    expect(attempts.map((a) => a.getAttribute('data-outcome'))).toEqual(['connection_error', 'ok']);
  });
});

describe('RunOutput explain', () => {
  it('opens the run in the Explain drawer', () => {
    const onExplain = vi.fn();
    const summary = {
      audit_id: 'run_01J',
      decision_id: 'dec-1',
      latency_ms: 10,
      model: 'local/smollm2',
      rule: 'qa-default',
      output: { text: 'Hi' },
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2, estimated: false },
      cost_usd: 0,
      attempts: [],
    };
    render(<RunOutput output="Hi" running={false} failure={null} summary={summary} onExplain={onExplain} />);
    fireEvent.click(screen.getByRole('button', { name: 'Explain this run' }));
    expect(onExplain).toHaveBeenCalledWith(summary);
  });
});

describe('ConnectionStatus', () => {
  it('announces a dropped socket and the retry', () => {
    render(<ConnectionStatus connection={{ state: 'reconnecting', attempt: 2, retryInMs: 2000 }} />);
    expect(screen.getByRole('status')).toHaveTextContent('Disconnected — retrying…');
    expect(screen.getByRole('status')).toHaveTextContent('attempt 2, next in 2.0 s');
  });
});
