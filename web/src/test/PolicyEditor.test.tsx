import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { createRef } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PolicyEditor } from '../components/PolicyEditor';

const active = {
  version: 3,
  updated_by: 'bootstrap',
  request_id: 'r1',
  updated_at: '2026-11-25T10:00:00Z',
  label: '2026.11.1',
  document: { version: '2026.11.1', timezone: 'Europe/Berlin', models: [{ name: 'local/a', rpm_cap: 10 }], rules: [] },
};

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

function server(put: () => Response) {
  return vi.fn((url: string, init?: RequestInit) => {
    const method = init?.method ?? 'GET';
    if (url === '/policy' && method === 'GET') return Promise.resolve(json(200, active));
    if (url === '/policy/history') return Promise.resolve(json(200, { versions: [active] }));
    if (url === '/policy' && method === 'PUT') return Promise.resolve(put());
    return Promise.resolve(json(404, { error: 'not_found' }));
  });
}

async function editor(): Promise<HTMLTextAreaElement> {
  const textarea = screen.getByLabelText<HTMLTextAreaElement>('Policy document (JSON)');
  await waitFor(() => expect(textarea.value).toContain('local/a'));
  return textarea;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('PolicyEditor', () => {
  it('lists each field error of a rejected save and says nothing changed', async () => {
    const errors = [
      { field: '$.models[0].rpm_cap', message: '0 is less than the minimum of 1' },
      { field: '$.timezone', message: 'is required' },
    ];
    const fetchMock = server(() => json(422, { error: 'policy_invalid', message: '2 error(s) in the policy', errors }));
    vi.stubGlobal('fetch', fetchMock);
    render(<PolicyEditor editorRef={createRef()} announcedVersion={null} />);
    const textarea = await editor();
    fireEvent.change(textarea, { target: { value: textarea.value.replace('"rpm_cap": 10', '"rpm_cap": 0') } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));

    const list = await screen.findByRole('list', { name: 'Field errors' });
    for (const error of errors) {
      const item = list.querySelector(`[data-field="${error.field}"]`);
      expect(item).toHaveTextContent(error.field);
      expect(item).toHaveTextContent(error.message);
    }
    expect(screen.getByText('Nothing was saved: version 3 is still active.')).toBeInTheDocument();
    expect(screen.getByText(/Active:/)).toHaveTextContent('v3');
    const put = fetchMock.mock.calls.find(([, init]) => init?.method === 'PUT');
    expect((put?.[1]?.headers as Record<string, string>)['X-Symphony-Actor']).toBe('dashboard');
  });

  it('says when the JSON does not parse, and sends nothing', async () => {
    const fetchMock = server(() => json(200, active));
    vi.stubGlobal('fetch', fetchMock);
    render(<PolicyEditor editorRef={createRef()} announcedVersion={null} />);
    const textarea = await editor();
    fireEvent.change(textarea, { target: { value: '{"models": [' } });
    fireEvent.click(screen.getByRole('button', { name: 'Validate' }));
    expect(await screen.findByText(/The JSON does not parse/)).toBeInTheDocument();
    expect(fetchMock.mock.calls.every(([, init]) => (init?.method ?? 'GET') === 'GET')).toBe(true);
  });
});
