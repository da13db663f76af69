import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from '../App';
import type { Session } from '../types';
import { FakeSocket } from './fakeSocket';
import { EFFECTIVE, decisionRecord, policyV3, runReport, session, shadowOff } from './fixtures';
import { json, serve, stateChanging, type Routes } from './server';

// Mermaid draws nothing in jsdom and is slow to load; the figure has its own place in the page.
vi.mock('../components/ArchitectureFigure', () => ({ ArchitectureFigure: () => null }));

const KILL_SWITCH_OFF = { kill_switch: false, updated_by: 'bootstrap', updated_at: '2026-11-25T09:00:00Z', reason: null };
const NOBODY = json(401, { error: 'unauthenticated', message: 'no session' });

const ops = session('ops-bot', EFFECTIVE.operator, 'sre');
const gov = session('gov', EFFECTIVE.governor, 'platform');
const root = session('root', EFFECTIVE.admin);
const app = session('billing-app', EFFECTIVE.client, 'billing');

/** The proxy with `who` signed in and nothing else to report. */
function signedIn(who: Session, extra: Routes = {}): Routes {
  return {
    'GET /session': json(200, who),
    'DELETE /session': json(204),
    'GET /controls/kill-switch': json(200, KILL_SWITCH_OFF),
    'GET /audit': json(200, { events: [], next_before: null }),
    'GET /policy': json(200, policyV3),
    'GET /policy/history': json(200, { versions: [policyV3] }),
    'GET /keys': json(200, { keys: [] }),
    'GET /policy/shadow': json(200, shadowOff),
    ...extra,
  };
}

async function dashboardOf(name: string): Promise<void> {
  expect(await screen.findByTestId('signed-in-as')).toHaveTextContent(name);
}

function heading(name: string): HTMLElement | null {
  return screen.queryByRole('heading', { name });
}

async function signInWith(key: string): Promise<void> {
  fireEvent.change(await screen.findByLabelText('API key'), { target: { value: key } });
  fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
}

beforeEach(() => {
  FakeSocket.instances = [];
  vi.stubGlobal('WebSocket', FakeSocket);
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('signing in', () => {
  it('shows only the login form while nobody is signed in, and asks for nothing else', async () => {
    const { calls } = serve({ 'GET /session': NOBODY });
    render(<App />);
    const field = await screen.findByLabelText('API key');
    expect(field).toHaveAttribute('type', 'password');
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeInTheDocument();
    for (const name of ['Model matrix', 'Runbook planner', 'Policy', 'Audit trail', 'API keys']) expect(heading(name)).toBeNull();
    expect(screen.queryByRole('button', { name: 'Sign out' })).toBeNull();
    expect(calls.map((call) => `${call.method} ${call.path}`)).toEqual(['GET /session']);
    expect(FakeSocket.instances).toHaveLength(0);
  });

  it('trades the key for a session and shows who is signed in', async () => {
    const { calls } = serve({ ...signedIn(ops), 'GET /session': NOBODY, 'POST /session': json(200, ops) });
    render(<App />);
    await signInWith('sk-ops-secret');
    await dashboardOf('ops-bot');
    const login = calls.find((call) => call.method === 'POST' && call.path === '/session');
    expect(login?.body).toEqual({ key: 'sk-ops-secret' });
    expect(login?.credentials).toBe('same-origin');
    expect(screen.getByText(/team sre/)).toBeInTheDocument();
    expect(within(screen.getByRole('list', { name: 'Roles' })).getByText('operator')).toBeInTheDocument();
    expect(screen.queryByLabelText('API key')).toBeNull();
  });

  it("shows the server's message for a wrong key and stays on the login form", async () => {
    serve({
      'GET /session': NOBODY,
      'POST /session': json(401, { error: 'unauthenticated', message: 'unknown or revoked API key' }),
    });
    render(<App />);
    await signInWith('sk-wrong');
    expect(await screen.findByRole('alert')).toHaveTextContent('unknown or revoked API key');
    expect(screen.getByLabelText('API key')).toBeInTheDocument();
    expect(screen.queryByTestId('signed-in-as')).toBeNull();
  });

  it('shows the rate limit when too many keys were wrong', async () => {
    serve({
      'GET /session': NOBODY,
      'POST /session': json(429, { error: 'auth_rate_limited', message: 'too many failed sign-ins; try again in 60 s' }),
    });
    render(<App />);
    await signInWith('sk-guess');
    expect(await screen.findByRole('alert')).toHaveTextContent('too many failed sign-ins; try again in 60 s');
  });

  it('opens the dashboard directly when the session cookie is still good', async () => {
    serve(signedIn(gov));
    render(<App />);
    await dashboardOf('gov');
  });
});

describe('leaving', () => {
  it('signs out with the CSRF token, closes the socket and returns to the login form', async () => {
    const { calls } = serve(signedIn(ops));
    render(<App />);
    await dashboardOf('ops-bot');
    expect(FakeSocket.live()).toHaveLength(1);

    fireEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByLabelText('API key')).toBeInTheDocument();
    const logout = calls.find((call) => call.method === 'DELETE' && call.path === '/session');
    expect(logout?.headers['X-CSRF-Token']).toBe('csrf-of-ops-bot');
    expect(FakeSocket.live()).toHaveLength(0);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(heading('Model matrix')).toBeNull();
  });

  it('returns to the login form when any call answers 401', async () => {
    serve(signedIn(ops, { 'GET /audit': json(401, { error: 'unauthenticated', message: 'session expired' }) }));
    render(<App />);
    expect(await screen.findByLabelText('API key')).toBeInTheDocument();
    expect(screen.getByRole('status')).toHaveTextContent('Your session has ended');
    expect(screen.queryByTestId('signed-in-as')).toBeNull();
    expect(FakeSocket.live()).toHaveLength(0);
  });

  it('asks the session before reconnecting a dropped socket, and stops when it has ended', async () => {
    let alive = true;
    const { calls } = serve(
      signedIn(ops, { 'GET /session': () => (alive ? json(200, ops) : json(401, { error: 'unauthenticated' })) }),
    );
    render(<App />);
    await dashboardOf('ops-bot');
    expect(FakeSocket.instances).toHaveLength(1);

    act(() => FakeSocket.instances[0]?.drop());
    await waitFor(() => expect(FakeSocket.instances).toHaveLength(2), { timeout: 2000 });
    expect(FakeSocket.instances[1]?.url).toBe(`ws://${window.location.host}/events`);

    alive = false;
    const checks = calls.filter((call) => call.path === '/session').length;
    act(() => FakeSocket.instances[1]?.drop());
    expect(await screen.findByLabelText('API key')).toBeInTheDocument();
    expect(calls.filter((call) => call.path === '/session')).toHaveLength(checks + 1);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(FakeSocket.instances).toHaveLength(2);
  });
});

describe('what each role is offered', () => {
  it('a governor gets the policy editor beside the operator panels', async () => {
    const { calls } = serve(signedIn(gov));
    render(<App />);
    await dashboardOf('gov');
    expect(heading('Policy')).toBeInTheDocument();
    expect(await screen.findByLabelText('Policy document (JSON)')).toBeInTheDocument();
    for (const name of ['Model matrix', 'Live decisions & alerts', 'Audit trail']) expect(heading(name)).toBeInTheDocument();
    expect(screen.getByLabelText('Kill switch')).toBeInTheDocument();
    expect(heading('API keys')).toBeNull();
    expect(heading('Runbook planner')).toBeNull();
    await waitFor(() => expect(calls.some((call) => call.path === '/policy')).toBe(true));
  });

  it('an operator gets the matrix, live log, kill switch and audit trail, but no policy editor', async () => {
    const { calls } = serve(signedIn(ops));
    render(<App />);
    await dashboardOf('ops-bot');
    for (const name of ['Model matrix', 'Live decisions & alerts', 'Audit trail']) expect(heading(name)).toBeInTheDocument();
    expect(screen.getByLabelText('Kill switch')).toBeInTheDocument();
    for (const name of ['Policy', 'API keys', 'Runbook planner']) expect(heading(name)).toBeNull();
    expect(screen.queryByLabelText('Policy document (JSON)')).toBeNull();
    await waitFor(() => expect(calls.some((call) => call.path === '/audit')).toBe(true));
    expect(calls.some((call) => call.path.startsWith('/policy'))).toBe(false);
    expect(FakeSocket.live()).toHaveLength(1);
  });

  it('a client gets the planner and a note of what it can do, and no socket', async () => {
    const { calls } = serve(signedIn(app));
    render(<App />);
    await dashboardOf('billing-app');
    expect(heading('Runbook planner')).toBeInTheDocument();
    expect(heading('Run output')).toBeInTheDocument();
    expect(screen.getByRole('note', { name: 'What this key can do' })).toHaveTextContent('plan routes and execute them');
    for (const name of ['Model matrix', 'Live decisions & alerts', 'Policy', 'Audit trail', 'API keys']) expect(heading(name)).toBeNull();
    expect(screen.queryByLabelText('Kill switch')).toBeNull();
    expect(document.querySelector('[data-connection]')).toBeNull();
    expect(calls.map((call) => call.path)).toEqual(['/session']);
    expect(FakeSocket.instances).toHaveLength(0);
  });

  it('an admin gets the API keys panel too', async () => {
    serve(signedIn(root));
    render(<App />);
    await dashboardOf('root');
    for (const name of ['API keys', 'Policy', 'Runbook planner', 'Audit trail']) expect(heading(name)).toBeInTheDocument();
  });

  it.each([
    { who: app, expected: ['Plan', 'Execute', 'Explain last decision', 'Sign out'] },
    { who: ops, expected: ['Toggle kill switch', 'Go to model matrix', 'Go to audit trail', 'Sign out'] },
    { who: gov, expected: ['Toggle kill switch', 'Go to model matrix', 'Go to audit trail', 'Focus policy editor', 'Sign out'] },
  ])('the command palette of $who.name lists only what its roles allow', async ({ who, expected }) => {
    serve(signedIn(who));
    render(<App />);
    await dashboardOf(who.name);
    fireEvent.click(screen.getByRole('button', { name: /Commands/ }));
    const options = within(await screen.findByRole('listbox', { name: 'Commands' })).getAllByRole('option');
    expect(options.map((option) => option.querySelector('.MuiListItemText-primary')?.textContent)).toEqual(expected);
  });
});

describe('the kill switch', () => {
  async function openConfirmation(): Promise<HTMLElement> {
    const toggle = await screen.findByLabelText('Kill switch');
    await waitFor(() => expect(toggle).toBeEnabled());
    fireEvent.click(toggle);
    return screen.findByRole('dialog');
  }

  it('asks for a reason before turning it on, then sends it with the CSRF token', async () => {
    const { calls } = serve(
      signedIn(ops, {
        'PUT /controls/kill-switch': json(200, { on: true, updated_by: 'ops-bot', updated_at: '2026-11-25T10:05:00Z', reason: 'incident 42' }),
      }),
    );
    render(<App />);
    await dashboardOf('ops-bot');
    const dialog = await openConfirmation();
    expect(dialog).toHaveTextContent('Turn the kill switch on?');
    expect(dialog).toHaveTextContent('is refused');
    const confirm = within(dialog).getByRole('button', { name: 'Confirm' });
    expect(confirm).toBeDisabled();
    fireEvent.change(within(dialog).getByLabelText('Reason'), { target: { value: '   ' } });
    expect(confirm).toBeDisabled();
    fireEvent.change(within(dialog).getByLabelText('Reason'), { target: { value: 'incident 42' } });
    expect(confirm).toBeEnabled();
    fireEvent.click(confirm);

    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    const [put] = stateChanging(calls);
    expect(put?.path).toBe('/controls/kill-switch');
    expect(put?.body).toEqual({ on: true, reason: 'incident 42' });
    expect(put?.headers['X-CSRF-Token']).toBe('csrf-of-ops-bot');
    expect(put?.headers).not.toHaveProperty('X-Symphony-Actor');
    expect(screen.getByLabelText('Kill switch')).toBeChecked();
    expect(screen.getByText('Kill switch ON')).toBeInTheDocument();
  });

  it('changes nothing when cancelled', async () => {
    const { calls } = serve(signedIn(ops));
    render(<App />);
    await dashboardOf('ops-bot');
    const dialog = await openConfirmation();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(stateChanging(calls)).toHaveLength(0);
    expect(screen.getByLabelText('Kill switch')).not.toBeChecked();
  });

  it("keeps the dialog open with the server's field error when it refuses the reason", async () => {
    const errors = [{ field: '$.reason', message: 'must not be blank' }];
    serve(
      signedIn(ops, {
        'PUT /controls/kill-switch': json(400, { error: 'invalid_request', message: '$.reason: must not be blank', errors }),
      }),
    );
    render(<App />);
    await dashboardOf('ops-bot');
    const dialog = await openConfirmation();
    fireEvent.change(within(dialog).getByLabelText('Reason'), { target: { value: 'x' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Confirm' }));
    const notice = await within(dialog).findByRole('alert');
    expect(notice.querySelector('[data-field="$.reason"]')).toHaveTextContent('must not be blank');
    expect(notice).toHaveTextContent('The kill switch was not changed.');
    expect(screen.getByLabelText('Kill switch')).not.toBeChecked();
  });

  it('shows a 403 with the role it needs', async () => {
    serve(
      signedIn(ops, {
        'PUT /controls/kill-switch': json(403, { error: 'forbidden', message: 'this key may not do that', required_role: 'operator' }),
      }),
    );
    render(<App />);
    await dashboardOf('ops-bot');
    const dialog = await openConfirmation();
    fireEvent.change(within(dialog).getByLabelText('Reason'), { target: { value: 'drill' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Confirm' }));
    const notice = await within(dialog).findByRole('alert');
    expect(notice).toHaveTextContent('403 forbidden');
    expect(notice).toHaveTextContent('this key may not do that');
    expect(notice).toHaveTextContent('This needs the operator role');
  });
});

describe('the live feed and the Explain drawer', () => {
  const planned = {
    type: 'decision',
    at: '2026-11-25T10:15:02Z',
    source: 'execute',
    decision_id: 'dec-7f3a',
    audit_id: 'run_01J9',
    task: 'qa',
    loa: 1,
    risk: 'low',
    allow: true,
    model: 'hosted/gemini-1.5-pro',
    rule: 'qa-hosted-first',
    denial: null,
    reasons: decisionRecord.decision.reasons,
  };
  const executed = {
    type: 'execution',
    decision_id: 'dec-7f3a',
    audit_id: 'run_01J9',
    model: 'local/smollm2',
    status: 'ok',
    cost_usd: 0.000412,
    latency_ms: 1214.1,
  };

  async function feedOf(who: Session, extra: Routes = {}): Promise<{ calls: ReturnType<typeof serve>['calls']; feed: HTMLElement }> {
    const { calls } = serve(
      signedIn(who, {
        'GET /decisions/dec-7f3a': json(200, decisionRecord),
        'GET /runs/run_01J9': json(200, runReport),
        ...extra,
      }),
    );
    render(<App />);
    await dashboardOf(who.name);
    act(() => FakeSocket.instances[0]?.open());
    return { calls, feed: screen.getByRole('log', { name: 'Live decisions and alerts' }) };
  }

  it('names the model that served once the execution event arrives, marking a fallback and the cost', async () => {
    const { feed } = await feedOf(ops);
    act(() => FakeSocket.instances[0]?.receive(planned));
    const line = feed.querySelector('[data-decision-id="dec-7f3a"]') as HTMLElement;
    expect(line).toHaveTextContent('→ hosted/gemini-1.5-pro (qa-hosted-first)');
    expect(line.querySelector('.feed-execution')).toBeNull();

    act(() => FakeSocket.instances[0]?.receive(executed));
    const served = line.querySelector('.feed-execution') as HTMLElement;
    expect(served).toHaveAttribute('data-serving-model', 'local/smollm2');
    expect(served).toHaveTextContent('served by local/smollm2');
    expect(served).toHaveTextContent('fallback from hosted/gemini-1.5-pro');
    expect(served).toHaveTextContent('$0.000412');
    expect(served).toHaveTextContent('1214 ms');
    expect(feed.querySelectorAll('[data-kind="decision"]')).toHaveLength(1);
  });

  it('opens THE decision of a feed line: its record and its run', async () => {
    const { calls, feed } = await feedOf(ops);
    act(() => FakeSocket.instances[0]?.receive(planned));
    fireEvent.click(within(feed).getByRole('button', { name: 'Explain decision dec-7f3a' }));
    const drawer = await screen.findByTestId('explain-drawer');
    expect(await within(drawer).findByTestId('drawer-revision')).toHaveTextContent('r3-e49d63b2a8a78f04 · revision 3');
    expect(await within(drawer).findByTestId('drawer-serving-model')).toHaveTextContent('local/smollm2');
    expect(calls.filter((call) => call.path === '/decisions/dec-7f3a')).toHaveLength(1);
    expect(calls.filter((call) => call.path === '/runs/run_01J9')).toHaveLength(1);
  });

  it('opens a decision by the id typed into "Open decision"', async () => {
    const { calls } = await feedOf(ops);
    fireEvent.change(screen.getByLabelText('Open decision'), { target: { value: '  dec-7f3a ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Open' }));
    const drawer = await screen.findByTestId('explain-drawer');
    expect(await within(drawer).findByTestId('drawer-revision')).toHaveTextContent('revision 3');
    expect(within(drawer).getByText('Decision id').nextElementSibling).toHaveTextContent('dec-7f3a');
    expect(calls.some((call) => call.path === '/decisions/dec-7f3a')).toBe(true);
  });

  it('offers the shadow policy panel to governors only', async () => {
    serve(signedIn(gov, { 'GET /policy/shadow': json(200, shadowOff) }));
    render(<App />);
    await dashboardOf('gov');
    expect(heading('Shadow policy')).toBeInTheDocument();
    cleanup();
    serve(signedIn(ops));
    render(<App />);
    await dashboardOf('ops-bot');
    expect(heading('Shadow policy')).toBeNull();
  });
});
