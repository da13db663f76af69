import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { createHash } from 'node:crypto';
import { createRef } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PolicyEditor } from '../components/PolicyEditor';
import type { PolicyResponse } from '../types';
import { conflictBody, policyRevision, policyV3, policyV4 } from './fixtures';

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

/** What the server holds; a test swaps `active` to play another operator saving first. */
interface Store {
  active: PolicyResponse;
}

function headers(init: RequestInit): Record<string, string> {
  return init.headers as Record<string, string>;
}

/** PUT /policy as the server does it: a new revision only over the one If-Match names. */
function conditionalPut(store: Store) {
  return (init: RequestInit): Response => {
    const ifMatch = headers(init)['If-Match'];
    if (ifMatch === undefined) {
      return json(428, { error: 'precondition_required', message: 'send If-Match with the ETag from GET /policy' });
    }
    if (ifMatch !== store.active.etag) return json(412, conflictBody(ifMatch, store.active));
    const body = init.body as string;
    store.active = policyRevision(store.active.version + 1, createHash('sha256').update(body).digest('hex'), {
      updated_by: 'dashboard',
      document: JSON.parse(body) as Record<string, unknown>,
    });
    return json(200, { ...store.active, sidecar: { bundle_revision: store.active.etag?.replaceAll('"', ''), in_step: true } });
  };
}

function server(put: (init: RequestInit) => Response, store: Store = { active: policyV3 }) {
  return vi.fn((url: string, init?: RequestInit) => {
    const method = init?.method ?? 'GET';
    if (url === '/policy' && method === 'GET') return Promise.resolve(json(200, store.active));
    if (url === '/policy/history') return Promise.resolve(json(200, { versions: [store.active] }));
    if (url === '/policy' && method === 'PUT') return Promise.resolve(put(init ?? {}));
    return Promise.resolve(json(404, { error: 'not_found' }));
  });
}

/** The If-Match header of every PUT, in order. */
function sentEtags(fetchMock: ReturnType<typeof server>): (string | undefined)[] {
  return fetchMock.mock.calls
    .filter(([, init]) => init?.method === 'PUT')
    .map(([, init]) => headers(init ?? {})['If-Match']);
}

async function editor(expected = 'local/a'): Promise<HTMLTextAreaElement> {
  const textarea = screen.getByLabelText<HTMLTextAreaElement>('Policy document (JSON)');
  await waitFor(() => expect(textarea.value).toContain(expected));
  return textarea;
}

function edit(textarea: HTMLTextAreaElement, from: string, to: string): void {
  fireEvent.change(textarea, { target: { value: textarea.value.replace(from, to) } });
}

/** Load v3, edit it, let alice store v4, then save: the server answers 412. */
async function conflict(store: Store): Promise<HTMLElement> {
  const textarea = await editor();
  edit(textarea, '"rpm_cap": 10', '"rpm_cap": 11');
  store.active = policyV4;
  fireEvent.click(screen.getByRole('button', { name: 'Save' }));
  return screen.findByRole('alert');
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
    expect(put?.[1]?.headers).not.toHaveProperty('X-Symphony-Actor');
  });

  it('says when the JSON does not parse, and sends nothing', async () => {
    const fetchMock = server(() => json(200, policyV3));
    vi.stubGlobal('fetch', fetchMock);
    render(<PolicyEditor editorRef={createRef()} announcedVersion={null} />);
    const textarea = await editor();
    fireEvent.change(textarea, { target: { value: '{"models": [' } });
    fireEvent.click(screen.getByRole('button', { name: 'Validate' }));
    expect(await screen.findByText(/The JSON does not parse/)).toBeInTheDocument();
    expect(fetchMock.mock.calls.every(([, init]) => (init?.method ?? 'GET') === 'GET')).toBe(true);
  });

  it('says when the saved version is active but this proxy\'s sidecar has not activated it yet', async () => {
    vi.stubGlobal(
      'fetch',
      server(() => json(200, { ...policyV4, sidecar: { bundle_revision: null, in_step: false } })),
    );
    render(<PolicyEditor editorRef={createRef()} announcedVersion={null} />);
    const textarea = await editor();
    edit(textarea, '"rpm_cap": 10', '"rpm_cap": 11');
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(
      await screen.findByText(
        "Saved as version 4; this proxy's OPA sidecar has not activated it yet, and decisions under the older version are refused.",
      ),
    ).toBeInTheDocument();
  });

  it('shows the loaded revision and its short hash', async () => {
    vi.stubGlobal('fetch', server(() => json(200, policyV3)));
    render(<PolicyEditor editorRef={createRef()} announcedVersion={null} />);
    await editor();
    const header = screen.getByText(/Active:/);
    expect(header).toHaveTextContent(`v3 (2026.11.1) by bootstrap ${policyV3.hash.slice(0, 8)}`);
  });

  it('saves over the loaded revision with its etag as If-Match, then adopts the etag of the new one', async () => {
    const store = { active: policyV3 };
    const fetchMock = server(conditionalPut(store), store);
    vi.stubGlobal('fetch', fetchMock);
    render(<PolicyEditor editorRef={createRef()} announcedVersion={null} />);
    const textarea = await editor();

    edit(textarea, '"rpm_cap": 10', '"rpm_cap": 11');
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText("Saved as version 4; this proxy's OPA sidecar runs it.")).toBeInTheDocument();
    const saved = store.active;
    edit(textarea, '"rpm_cap": 11', '"rpm_cap": 12');
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText("Saved as version 5; this proxy's OPA sidecar runs it.")).toBeInTheDocument();

    expect(sentEtags(fetchMock)).toEqual([policyV3.etag, saved.etag]);
    expect(store.active.document).toMatchObject({ models: [{ name: 'local/a', rpm_cap: 12 }] });
  });

  it('on a 412 says who saved what since it loaded, offers both ways out, and stores nothing', async () => {
    const store = { active: policyV3 };
    const fetchMock = server(conditionalPut(store), store);
    vi.stubGlobal('fetch', fetchMock);
    render(<PolicyEditor editorRef={createRef()} announcedVersion={null} />);

    const notice = await conflict(store);
    expect(notice).toHaveAttribute('data-error', 'precondition_failed');
    expect(notice).toHaveTextContent(
      'Revision 4 by alice at 2026-11-25T11:30:00Z was saved since the editor loaded revision 3. Nothing was saved.',
    );
    expect(within(notice).getByRole('button', { name: 'Reload latest' })).toBeInTheDocument();
    expect(within(notice).getByRole('button', { name: 'Keep my edits' })).toBeInTheDocument();
    expect(store.active).toBe(policyV4);
    expect(screen.queryByText(/Saved as version/)).not.toBeInTheDocument();
    expect(screen.getByLabelText<HTMLTextAreaElement>('Policy document (JSON)').value).toContain('"rpm_cap": 11');
    expect(sentEtags(fetchMock)).toEqual([policyV3.etag]);
  });

  it('"Reload latest" discards the edit for the latest revision and saves over that one', async () => {
    const store = { active: policyV3 };
    const fetchMock = server(conditionalPut(store), store);
    vi.stubGlobal('fetch', fetchMock);
    render(<PolicyEditor editorRef={createRef()} announcedVersion={null} />);
    const notice = await conflict(store);

    fireEvent.click(within(notice).getByRole('button', { name: 'Reload latest' }));
    const textarea = await editor('local/b');
    expect(textarea.value).not.toContain('local/a');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.getByText(/Active:/)).toHaveTextContent('v4 (2026.11.2) by alice');

    edit(textarea, '"rpm_cap": 20', '"rpm_cap": 21');
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText("Saved as version 5; this proxy's OPA sidecar runs it.")).toBeInTheDocument();
    expect(sentEtags(fetchMock)).toEqual([policyV3.etag, policyV4.etag]);
  });

  it('"Keep my edits" keeps the text and the next Save overwrites the newer revision knowingly', async () => {
    const store = { active: policyV3 };
    const fetchMock = server(conditionalPut(store), store);
    vi.stubGlobal('fetch', fetchMock);
    render(<PolicyEditor editorRef={createRef()} announcedVersion={null} />);
    const notice = await conflict(store);

    fireEvent.click(within(notice).getByRole('button', { name: 'Keep my edits' }));
    expect(await screen.findByText(/Your edits are kept\. Save now replaces revision 4 by alice/)).toBeInTheDocument();
    expect(screen.getByText('saving replaces v4')).toBeInTheDocument();
    expect(screen.getByLabelText<HTMLTextAreaElement>('Policy document (JSON)').value).toContain('"rpm_cap": 11');

    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText("Saved as version 5; this proxy's OPA sidecar runs it.")).toBeInTheDocument();
    expect(sentEtags(fetchMock)).toEqual([policyV3.etag, policyV4.etag]);
    expect(store.active.document).toMatchObject({ models: [{ name: 'local/a', rpm_cap: 11 }] });
    expect(screen.queryByText('saving replaces v4')).not.toBeInTheDocument();
  });

  it('shows a 428 as an error and says nothing was saved', async () => {
    const fetchMock = server(() =>
      json(428, { error: 'precondition_required', message: 'send If-Match with the ETag from GET /policy' }),
    );
    vi.stubGlobal('fetch', fetchMock);
    render(<PolicyEditor editorRef={createRef()} announcedVersion={null} />);
    const textarea = await editor();
    edit(textarea, '"rpm_cap": 10', '"rpm_cap": 11');
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));

    const notice = await screen.findByRole('alert');
    expect(notice).toHaveAttribute('data-error', 'precondition_required');
    expect(notice).toHaveTextContent('428 precondition_required');
    expect(notice).toHaveTextContent('send If-Match with the ETag from GET /policy');
    expect(notice).toHaveTextContent('Nothing was saved: version 3 is still active.');
    expect(within(notice).queryByRole('button', { name: 'Reload latest' })).not.toBeInTheDocument();
  });
});
