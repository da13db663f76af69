import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fetchSession } from '../api';
import { Panel } from '../components/Panel';
import { ShadowPolicy } from '../components/ShadowPolicy';
import type { ShadowState } from '../types';
import { EFFECTIVE, conflictBody, policyRevision, policyV3, policyV4, session, shadowOff, shadowOn } from './fixtures';
import { json, serve, stateChanging, type Call, type Routes } from './server';

const gov = session('gov', EFFECTIVE.governor);

/** The proxy's shadow endpoints over one mutable state; `extra` overrides any route. */
async function panelWith(start: ShadowState, extra: Routes = {}): Promise<Call[]> {
  let shadow = start;
  const { calls } = serve({
    'GET /session': json(200, gov),
    'GET /policy': json(200, policyV3),
    'GET /policy/shadow': () => json(200, shadow),
    'PUT /policy/shadow': (call) => {
      shadow = { ...shadowOff, revision: (call.body as { revision: number }).revision, since: '2026-11-25T12:00:00Z' };
      return json(204);
    },
    'DELETE /policy/shadow': () => {
      shadow = shadowOff;
      return json(204);
    },
    'POST /policy/shadow/promote': () => {
      shadow = shadowOff;
      return json(200, policyRevision(5, 'b'.repeat(64)));
    },
    ...extra,
  });
  await fetchSession();
  render(
    <Panel id="shadow" title="Shadow policy">
      <ShadowPolicy announcedVersion={null} />
    </Panel>,
  );
  return calls;
}

function field(name: string): HTMLElement | null {
  return document.querySelector(`[data-field="${name}"]`);
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('Shadow policy panel', () => {
  it('shows the shadow revision, how many decisions it saw and how often it disagreed', async () => {
    await panelWith(shadowOn);
    expect(screen.getByRole('heading', { name: 'Shadow policy' })).toBeInTheDocument();
    await waitFor(() => expect(field('revision')).toHaveTextContent('r5'));
    expect(field('evaluated')).toHaveTextContent('1,204');
    expect(field('disagreements')).toHaveTextContent('37');
    expect(field('rate')).toHaveTextContent('3.1%');
  });

  it('sets a revision as shadow with PUT and the CSRF token', async () => {
    const calls = await panelWith(shadowOff);
    expect(await screen.findByText(/No shadow revision/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Drop shadow' })).toBeDisabled();
    fireEvent.change(screen.getByLabelText('Revision number'), { target: { value: '5' } });
    fireEvent.click(screen.getByRole('button', { name: 'Set as shadow' }));

    expect(await screen.findByText('Revision 5 is now evaluated in shadow.')).toBeInTheDocument();
    await waitFor(() => expect(field('revision')).toHaveTextContent('r5'));
    const [put] = stateChanging(calls);
    expect(put?.method).toBe('PUT');
    expect(put?.path).toBe('/policy/shadow');
    expect(put?.body).toEqual({ revision: 5 });
    expect(put?.headers['X-CSRF-Token']).toBe('csrf-of-gov');
  });

  it('shows a refused revision as an error and keeps the number typed', async () => {
    await panelWith(shadowOff, { 'PUT /policy/shadow': json(404, { error: 'not_found', message: 'no revision 99' }) });
    await screen.findByText(/No shadow revision/);
    fireEvent.change(screen.getByLabelText('Revision number'), { target: { value: '99' } });
    fireEvent.click(screen.getByRole('button', { name: 'Set as shadow' }));
    const notice = await screen.findByRole('alert');
    expect(notice).toHaveTextContent('404 not_found');
    expect(notice).toHaveTextContent('No shadow revision was set.');
    expect(screen.getByLabelText('Revision number')).toHaveValue(99);
  });

  it('drops the shadow revision with DELETE and the CSRF token', async () => {
    const calls = await panelWith(shadowOn);
    const drop = screen.getByRole('button', { name: 'Drop shadow' });
    await waitFor(() => expect(drop).toBeEnabled());
    fireEvent.click(drop);
    expect(await screen.findByText('The shadow revision was dropped.')).toBeInTheDocument();
    const [deleted] = stateChanging(calls);
    expect(`${deleted?.method} ${deleted?.path}`).toBe('DELETE /policy/shadow');
    expect(deleted?.headers['X-CSRF-Token']).toBe('csrf-of-gov');
    await waitFor(() => expect(field('revision')).toHaveTextContent('none'));
  });

  it('promotes only after a confirmation, over the active revision named in If-Match', async () => {
    const calls = await panelWith(shadowOn);
    const promote = screen.getByRole('button', { name: 'Promote…' });
    await waitFor(() => expect(promote).toBeEnabled());

    fireEvent.click(promote);
    let dialog = await screen.findByRole('dialog', { name: 'Promote revision 5?' });
    expect(dialog).toHaveTextContent('replacing v3');
    expect(dialog).toHaveTextContent('37 of 1,204 decisions (3.1%)');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(stateChanging(calls)).toHaveLength(0);

    fireEvent.click(promote);
    dialog = await screen.findByRole('dialog', { name: 'Promote revision 5?' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Promote' }));
    expect(await screen.findByText('Revision 5 is now active, replacing v3.')).toBeInTheDocument();
    const [post] = stateChanging(calls);
    expect(`${post?.method} ${post?.path}`).toBe('POST /policy/shadow/promote');
    expect(post?.headers['If-Match']).toBe(policyV3.etag);
    expect(post?.headers['X-CSRF-Token']).toBe('csrf-of-gov');
  });

  it('says when another revision became active first, and promotes nothing', async () => {
    await panelWith(shadowOn, {
      'POST /policy/shadow/promote': (call) => json(412, conflictBody(call.headers['If-Match'] ?? '', policyV4)),
    });
    const promote = screen.getByRole('button', { name: 'Promote…' });
    await waitFor(() => expect(promote).toBeEnabled());
    fireEvent.click(promote);
    fireEvent.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Promote' }));
    const notice = await screen.findByRole('alert');
    expect(notice).toHaveAttribute('data-error', 'precondition_failed');
    expect(notice).toHaveTextContent('Revision 4 by alice became active after this panel loaded v3. Nothing was promoted');
  });
});
