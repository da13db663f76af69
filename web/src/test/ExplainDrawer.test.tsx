import { fireEvent, render, screen, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { ExplainDrawer } from '../components/ExplainDrawer';
import { fromDecisionMessage, fromPlan, parseTraceLine } from '../explain';
import { plan } from './fixtures';

describe('ExplainDrawer', () => {
  it('shows the winning rule and model, every reason with its detail, and the trace', () => {
    render(<ExplainDrawer view={fromPlan(plan)} open onClose={() => undefined} onFullTrace={() => undefined} />);
    const drawer = screen.getByTestId('explain-drawer');

    expect(within(drawer).getByText('Winning rule').nextSibling).toHaveTextContent('qa-default');
    expect(within(drawer).getByText('Model').nextSibling).toHaveTextContent('local/smollm2');

    const candidates = within(drawer).getByRole('list', { name: 'Candidate reasons' });
    const items = within(candidates).getAllByRole('listitem');
    expect(items).toHaveLength(plan.decision.reasons.length);
    for (const reason of plan.decision.reasons) {
      const item = candidates.querySelector(`[data-model="${reason.model}"]`);
      expect(item).not.toBeNull();
      expect(item).toHaveAttribute('data-reason', reason.reason);
      expect(within(item as HTMLElement).getByText(reason.reason)).toBeInTheDocument();
      expect(within(item as HTMLElement).getByText(reason.detail)).toBeInTheDocument();
    }

    const trace = within(drawer).getByRole('list', { name: 'OPA trace' });
    const lines = within(trace).getAllByRole('listitem');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toHaveTextContent('policy/rego/router.rego:132');
    expect(lines[1]?.querySelector('.trace-location')).toHaveTextContent('policy/rego/router.rego:132');
    expect(lines[1]).toHaveTextContent('Note "rule qa-default matched"');
  });

  it('asks for the full trace on demand', () => {
    const onFullTrace = vi.fn();
    render(<ExplainDrawer view={fromPlan(plan)} open onClose={() => undefined} onFullTrace={onFullTrace} />);
    fireEvent.click(screen.getByRole('button', { name: 'Full trace' }));
    expect(onFullTrace).toHaveBeenCalledOnce();
  });

  it('shows a denial and says that live events carry no trace', () => {
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
    render(<ExplainDrawer view={view} open onClose={() => undefined} />);
    expect(screen.getByText('✖ denied')).toBeInTheDocument();
    expect(screen.getByText('Denial').nextSibling).toHaveTextContent('kill_switch');
    expect(screen.getByText('window_closed')).toBeInTheDocument();
    expect(screen.getByText(/Live events carry no trace/)).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Full trace' })).toBeNull();
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
