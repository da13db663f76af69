import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiKeys, keyStatus } from '../components/ApiKeys';
import { apiKey } from './fixtures';
import { json, serve } from './server';

const SECRET = 'sk_live_4f9a1c2e7b3d8a6f';

const existing = [
  apiKey('k1', 'billing-app', ['client'], { team: 'billing', last_used_at: '2026-11-25T09:30:00Z' }),
  apiKey('k2', 'old-ci', ['client'], { revoked_at: '2026-11-21T00:00:00Z' }),
];

function rowOf(id: string): HTMLElement {
  const row = document.querySelector<HTMLElement>(`[role="row"][data-id="${id}"]`);
  if (!row) throw new Error(`no row for key ${id}`);
  return row;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('ApiKeys', () => {
  it('lists every key with its roles and status, and offers revoking only the live ones', async () => {
    serve({ 'GET /keys': json(200, { keys: existing }) });
    render(<ApiKeys virtualize={false} />);
    await waitFor(() => expect(rowOf('k1')).toHaveTextContent('billing-app'));
    expect(rowOf('k1')).toHaveTextContent('active');
    expect(rowOf('k1')).toHaveTextContent('billing');
    expect(rowOf('k2')).toHaveTextContent('revoked');
    expect(screen.getByRole('button', { name: 'Revoke key billing-app' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Revoke key old-ci' })).toBeNull();
  });

  it('creates a key and shows its secret once, with a copy button and a warning', async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
    const created = apiKey('k3', 'deploy-bot', ['operator', 'client'], { team: 'sre', created_by: 'root' });
    const { calls } = serve({ 'GET /keys': json(200, { keys: existing }), 'POST /keys': json(201, { ...created, key: SECRET }) });
    render(<ApiKeys virtualize={false} />);
    await waitFor(() => expect(rowOf('k1')).toBeInTheDocument());

    const form = screen.getByRole('form', { name: 'Create an API key' });
    fireEvent.change(within(form).getByLabelText(/Name/), { target: { value: 'deploy-bot' } });
    fireEvent.change(within(form).getByLabelText('Team'), { target: { value: 'sre' } });
    fireEvent.click(within(form).getByLabelText('operator'));
    fireEvent.click(within(form).getByRole('button', { name: 'Create key' }));

    const reveal = await screen.findByRole('alert', { name: 'New API key' });
    expect(within(reveal).getByLabelText('The new key')).toHaveValue(SECRET);
    expect(reveal).toHaveTextContent('this key will not be shown again');
    const post = calls.find((call) => call.method === 'POST');
    expect(post?.body).toEqual({ name: 'deploy-bot', roles: ['client', 'operator'], team: 'sre' });

    fireEvent.click(within(reveal).getByRole('button', { name: 'Copy' }));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith(SECRET));
    expect(within(reveal).getByRole('button', { name: 'Copied' })).toBeInTheDocument();
    expect(rowOf('k3')).toHaveTextContent('deploy-bot');
    expect(rowOf('k3')).not.toHaveTextContent(SECRET);

    fireEvent.click(within(reveal).getByRole('button', { name: 'Done' }));
    await waitFor(() => expect(screen.queryByRole('alert', { name: 'New API key' })).toBeNull());
    expect(document.body).not.toHaveTextContent(SECRET);
    expect(screen.queryByDisplayValue(SECRET)).toBeNull();
  });

  it('revokes a key only after a confirmation', async () => {
    const revoked = { ...existing[0], revoked_at: '2026-11-25T10:00:00Z' };
    const { calls } = serve({ 'GET /keys': json(200, { keys: existing }), 'DELETE /keys/k1': json(200, revoked) });
    render(<ApiKeys virtualize={false} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Revoke key billing-app' }));

    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('Revoke key “billing-app”?');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(calls.filter((call) => call.method === 'DELETE')).toHaveLength(0);

    fireEvent.click(screen.getByRole('button', { name: 'Revoke key billing-app' }));
    fireEvent.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Confirm' }));
    await waitFor(() => expect(rowOf('k1')).toHaveTextContent('revoked'));
    expect(calls.filter((call) => call.method === 'DELETE').map((call) => call.path)).toEqual(['/keys/k1']);
    expect(screen.queryByRole('button', { name: 'Revoke key billing-app' })).toBeNull();
  });
});

describe('keyStatus', () => {
  it('says revoked before expired, and expired only once the time has passed', () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    expect(keyStatus(apiKey('a', 'a', ['client'], { expires_at: '2026-11-25T11:59:59Z' }), now)).toBe('expired');
    expect(keyStatus(apiKey('a', 'a', ['client'], { expires_at: '2026-11-25T12:00:01Z' }), now)).toBe('active');
    expect(keyStatus(apiKey('a', 'a', ['client'], { expires_at: '2026-11-20T00:00:00Z', revoked_at: 't' }), now)).toBe('revoked');
  });
});
