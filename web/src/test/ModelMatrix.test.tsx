import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { ModelMatrix, rowAlerts } from '../components/ModelMatrix';
import { stat } from './fixtures';

const rows = [
  stat({ id: 'hosted/normal', budgetFrac: 0.5, usdToday: 2.5 }),
  stat({ id: 'hosted/spent', budgetFrac: 0.85, usdToday: 4.25 }),
  stat({ id: 'hosted/closed', window: 'closed', windowDetail: 'opens 08:00 Mon–Fri Europe/Berlin, in 1 d 22 h' }),
  stat({ id: 'local/free', class: 'local', usdCap: null, budgetFrac: 0, rpmCap: 120 }),
];

function rowOf(id: string): HTMLElement {
  const row = document.querySelector<HTMLElement>(`[role="row"][data-id="${id}"]`);
  if (!row) throw new Error(`no row for ${id}`);
  return row;
}

describe('ModelMatrix', () => {
  it('renders every model in a labelled grid', () => {
    render(<ModelMatrix rows={rows} virtualize={false} />);
    const grid = screen.getByRole('grid', { name: 'Model matrix' });
    for (const row of rows) expect(within(grid).getByText(row.id)).toBeInTheDocument();
  });

  it('shows the deferred jobs queued for each model', () => {
    render(<ModelMatrix rows={rows} virtualize={false} queued={{ 'hosted/closed': { queued: 3 } }} />);
    expect(within(rowOf('hosted/closed')).getByText('3 waiting')).toBeInTheDocument();
    expect(within(rowOf('hosted/normal')).queryByText(/waiting/)).toBeNull();
  });

  it('highlights a row over 80% budget with a warning sign, not colour alone', () => {
    render(<ModelMatrix rows={rows} virtualize={false} />);
    const spent = rowOf('hosted/spent');
    expect(spent).toHaveAttribute('data-alert', 'budget_over_80');
    expect(spent).toHaveClass('matrix-row--budget_over_80');
    expect(within(spent).getByText('⚠ 85%')).toBeInTheDocument();
  });

  it('highlights a closed-window row with a "closed" chip and its detail', () => {
    render(<ModelMatrix rows={rows} virtualize={false} />);
    const closed = rowOf('hosted/closed');
    expect(closed).toHaveAttribute('data-alert', 'window_closed');
    const chip = within(closed).getByText('closed').closest('.MuiChip-root');
    expect(chip?.querySelector('[data-testid="BlockIcon"]')).not.toBeNull();
    expect(within(closed).getByText('opens 08:00 Mon–Fri Europe/Berlin, in 1 d 22 h')).toBeInTheDocument();
  });

  it('leaves normal rows alone', () => {
    render(<ModelMatrix rows={rows} virtualize={false} />);
    for (const id of ['hosted/normal', 'local/free']) {
      const row = rowOf(id);
      expect(row).not.toHaveAttribute('data-alert');
      expect(row.className).not.toMatch(/matrix-row--/);
    }
    expect(within(rowOf('hosted/normal')).getByText('50%')).toBeInTheDocument();
    expect(within(rowOf('local/free')).getByText('—', { selector: '[title="no daily cap"]' })).toBeInTheDocument();
  });

  it('updates when new stats arrive', () => {
    const { rerender } = render(<ModelMatrix rows={rows} virtualize={false} />);
    expect(rowOf('hosted/normal')).not.toHaveAttribute('data-alert');
    rerender(<ModelMatrix rows={[stat({ id: 'hosted/normal', budgetFrac: 0.95 })]} virtualize={false} />);
    expect(rowOf('hosted/normal')).toHaveAttribute('data-alert', 'budget_over_80');
    expect(document.querySelector('[data-id="hosted/spent"]')).toBeNull();
  });
});

describe('rowAlerts', () => {
  it('names both reasons when both hold, and none at exactly 80%', () => {
    expect(rowAlerts(stat({ id: 'x', window: 'closed', budgetFrac: 0.9 }))).toEqual(['window_closed', 'budget_over_80']);
    expect(rowAlerts(stat({ id: 'x', budgetFrac: 0.8 }))).toEqual([]);
  });
});
