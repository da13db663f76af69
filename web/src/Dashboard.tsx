import KeyboardCommandKeyIcon from '@mui/icons-material/KeyboardCommandKey';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { AccountBar } from './components/AccountBar';
import { ApiKeys } from './components/ApiKeys';
import { ArchitectureFigure } from './components/ArchitectureFigure';
import { AuditTrail } from './components/AuditTrail';
import { CommandPalette, type Command } from './components/CommandPalette';
import { ConnectionStatus } from './components/ConnectionStatus';
import { ExplainDrawer } from './components/ExplainDrawer';
import { KillSwitchControl } from './components/KillSwitchControl';
import { JobQueue, type Waiting } from './components/JobQueue';
import { Incidents } from './components/Incidents';
import { KillSwitchDialog } from './components/KillSwitchDialog';
import { LiveLog } from './components/LiveLog';
import { ModelMatrix } from './components/ModelMatrix';
import { OpenDecision } from './components/OpenDecision';
import { Panel } from './components/Panel';
import { PolicyEditor } from './components/PolicyEditor';
import { RoleNotice } from './components/RoleNotice';
import { RunbookPlanner } from './components/RunbookPlanner';
import { RunOutput } from './components/RunOutput';
import { ShadowPolicy } from './components/ShadowPolicy';
import {
  fromPlan,
  targetOfId,
  targetOfMessage,
  targetOfRun,
  targetOfView,
  type ExplainTarget,
  type ExplainView,
} from './explain';
import { initialLiveState, liveReducer, type DecisionItem } from './liveState';
import { abilitiesOf } from './roles';
import type { ExecuteSummary, Session } from './types';
import { useEventSocket } from './useEventSocket';
import { useKillSwitch } from './useKillSwitch';
import { usePlanner } from './usePlanner';

const SECTIONS = {
  notice: { gridColumn: '1 / -1' },
  matrix: { gridColumn: '1 / -1' },
  planner: { gridColumn: { xs: '1 / -1', md: 'span 6', lg: 'span 4' } },
  run: { gridColumn: { xs: '1 / -1', md: 'span 6', lg: 'span 4' } },
  live: { gridColumn: { xs: '1 / -1', lg: 'span 4' } },
  policy: { gridColumn: { xs: '1 / -1', lg: 'span 8' } },
  side: { gridColumn: { xs: '1 / -1', lg: 'span 4' }, display: 'flex', flexDirection: 'column', gap: 2 },
  audit: { gridColumn: '1 / -1' },
  jobs: { gridColumn: '1 / -1' },
  incidents: { gridColumn: '1 / -1' },
  keys: { gridColumn: '1 / -1' },
} as const;

function scrollTo(id: string): void {
  document.getElementById(id)?.scrollIntoView({ block: 'start' });
}

interface DashboardProps {
  session: Session;
  onSignOut: () => Promise<void>;
  /** Ask the server who is signed in now (null: nobody); the socket asks before each reconnect. */
  verifySession: () => Promise<Session | null>;
}

/**
 * The one-page dashboard for a signed-in key. What its roles may not do is not offered: no
 * panel, no command, no request made for it.
 */
export function Dashboard({ session, onSignOut, verifySession }: DashboardProps) {
  const can = useMemo(() => abilitiesOf(session.roles), [session.roles]);
  const [live, dispatch] = useReducer(liveReducer, initialLiveState);
  const verify = useCallback(
    async (): Promise<boolean> => (await verifySession())?.roles.includes('operator') ?? false,
    [verifySession],
  );
  const connection = useEventSocket(dispatch, { enabled: can.operate, verify });
  const planner = usePlanner();
  const killSwitch = useKillSwitch(dispatch, live.killSwitch?.kill_switch ?? null, can.operate);
  const [explain, setExplain] = useState<ExplainTarget | null>(null);
  const [drawerOpen, setDrawerOpen] = useState(false);
  const [paletteOpen, setPaletteOpen] = useState(false);
  const [waiting, setWaiting] = useState<Waiting>({});
  const policyEditor = useRef<HTMLTextAreaElement>(null);

  const open = useCallback((target: ExplainTarget) => {
    setExplain(target);
    setDrawerOpen(true);
  }, []);
  const show = useCallback(
    (view: ExplainView | null) => {
      if (view) open(targetOfView(view));
    },
    [open],
  );

  const { plan, execute } = planner;
  const doPlan = useCallback(() => void plan().then(show), [plan, show]);
  const doExecute = useCallback(() => void execute().then(show), [execute, show]);
  const explainLast = useCallback(() => {
    if (planner.lastPlan) show(fromPlan(planner.lastPlan, planner.lastMode));
    else setDrawerOpen(true);
  }, [planner.lastPlan, planner.lastMode, show]);
  const explainEvent = useCallback((item: DecisionItem) => open(targetOfMessage(item.message, item.execution)), [open]);
  const explainRun = useCallback((summary: ExecuteSummary) => open(targetOfRun(summary)), [open]);
  const openDecision = useCallback((decisionId: string) => open(targetOfId(decisionId)), [open]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'k') {
        event.preventDefault();
        setPaletteOpen((open) => !open);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const commands: Command[] = useMemo(() => {
    const routing: Command[] = [
      { id: 'plan', label: 'Plan', hint: 'Ask the policy where the planner request would go', run: doPlan },
      { id: 'execute', label: 'Execute', hint: 'Run the planner request and stream the answer', run: doExecute },
      { id: 'explain', label: 'Explain last decision', hint: 'Open the Explain Route drawer', run: explainLast },
    ];
    const operating: Command[] = [
      {
        id: 'kill-switch',
        label: 'Toggle kill switch',
        hint: live.killSwitch?.kill_switch ? 'Currently ON: turn it off (asks for a reason)' : 'Currently off: turn it on (asks for a reason)',
        disabled: live.killSwitch === null,
        run: killSwitch.ask,
      },
      { id: 'matrix', label: 'Go to model matrix', hint: 'Scroll to the live model matrix', run: () => scrollTo('matrix') },
      { id: 'audit', label: 'Go to audit trail', hint: 'Who changed what, newest first', run: () => scrollTo('audit') },
    ];
    const governing: Command[] = [
      {
        id: 'policy',
        label: 'Focus policy editor',
        hint: 'Edit, validate and save the policy document',
        run: () => {
          const editor = policyEditor.current;
          editor?.scrollIntoView({ block: 'center' });
          // The dialog hands focus back to its opener on close; take it after that.
          setTimeout(() => editor?.focus(), 0);
        },
      },
    ];
    const administering: Command[] = [
      { id: 'keys', label: 'Go to API keys', hint: 'Create and revoke API keys', run: () => scrollTo('keys') },
    ];
    return [
      ...(can.route ? routing : []),
      ...(can.operate ? operating : []),
      ...(can.govern ? governing : []),
      ...(can.administer ? administering : []),
      { id: 'sign-out', label: 'Sign out', hint: `End the session of ${session.name}`, run: () => void onSignOut() },
    ];
  }, [can, doPlan, doExecute, explainLast, killSwitch.ask, live.killSwitch, session.name, onSignOut]);

  return (
    <Box sx={{ p: { xs: 1.5, md: 2.5 }, maxWidth: 1800, mx: 'auto' }}>
      <Stack component="header" direction="row" sx={{ alignItems: 'center', gap: 2, flexWrap: 'wrap', mb: 2 }}>
        <Box>
          <Typography variant="h1">Symphony</Typography>
          <Typography variant="caption" sx={{ opacity: 0.7 }}>
            policy-as-code routing for LLM traffic
            {live.policyVersion !== null ? ` · policy v${live.policyVersion}` : ''}
            {live.serverVersion ? ` · server ${live.serverVersion}` : ''}
          </Typography>
        </Box>
        <Box sx={{ flex: 1 }} />
        {can.operate && <ConnectionStatus connection={connection} />}
        {can.operate && (
          <KillSwitchControl
            state={live.killSwitch}
            pending={killSwitch.pending}
            error={killSwitch.error}
            onToggle={killSwitch.ask}
          />
        )}
        <Button
          variant="outlined"
          size="small"
          startIcon={<KeyboardCommandKeyIcon />}
          onClick={() => setPaletteOpen(true)}
          aria-keyshortcuts="Control+K"
        >
          Commands (Ctrl+K)
        </Button>
        <AccountBar session={session} onSignOut={onSignOut} />
      </Stack>

      <Box component="main" sx={{ display: 'grid', gridTemplateColumns: 'repeat(12, minmax(0, 1fr))', gap: 2 }}>
        {!can.operate && (
          <Box sx={SECTIONS.notice}>
            <RoleNotice can={can} />
          </Box>
        )}
        {can.operate && (
          <Box sx={SECTIONS.matrix}>
            <Panel
              id="matrix"
              title="Model matrix"
              actions={
                <Typography variant="caption" sx={{ opacity: 0.7 }} data-stats-at={live.statsAt ?? ''}>
                  {live.statsAt ? `updated ${new Date(live.statsAt).toLocaleTimeString([], { hour12: false })}` : 'waiting for stats'}
                  {connection.state !== 'open' && live.statsAt ? ' · stale while disconnected' : ''}
                </Typography>
              }
            >
              <ModelMatrix
                rows={live.models}
                loading={live.statsAt === null && connection.state === 'connecting'}
                queued={waiting}
              />
            </Panel>
          </Box>
        )}
        {can.route && (
          <>
            <Box sx={SECTIONS.planner}>
              <Panel id="planner" title="Runbook planner">
                <RunbookPlanner
                  form={planner.form}
                  onChange={planner.setForm}
                  busy={planner.busy}
                  lastPlan={planner.lastPlan}
                  onPlan={doPlan}
                  onExecute={doExecute}
                  onCancel={planner.cancel}
                  onExplain={explainLast}
                />
              </Panel>
            </Box>
            <Box sx={SECTIONS.run}>
              <Panel id="run" title="Run output">
                <RunOutput
                  output={planner.output}
                  running={planner.busy === 'execute'}
                  summary={planner.summary}
                  failure={planner.failure}
                  onExplain={explainRun}
                />
              </Panel>
            </Box>
          </>
        )}
        {can.operate && (
          <Box sx={SECTIONS.live}>
            <Panel id="live" title="Live decisions & alerts" actions={<OpenDecision onOpen={openDecision} />}>
              <LiveLog feed={live.feed} onSelectDecision={explainEvent} />
            </Panel>
          </Box>
        )}
        {can.govern && (
          <Box sx={SECTIONS.policy}>
            <Panel id="policy" title="Policy">
              <PolicyEditor editorRef={policyEditor} announcedVersion={live.policyVersion} onOpenDecision={openDecision} />
            </Panel>
          </Box>
        )}
        {can.operate && (
          <Box sx={SECTIONS.side}>
            {can.govern && (
              <Panel id="shadow" title="Shadow policy">
                <ShadowPolicy announcedVersion={live.policyVersion} />
              </Panel>
            )}
            <Panel id="architecture" title="Architecture">
              <ArchitectureFigure />
            </Panel>
          </Box>
        )}
        {can.operate && (
          <Box sx={SECTIONS.incidents}>
            <Panel id="incidents" title="Incidents">
              <Incidents />
            </Panel>
          </Box>
        )}
        {can.operate && (
          <Box sx={SECTIONS.jobs}>
            <Panel id="jobs" title="Deferred jobs">
              <JobQueue onWaiting={setWaiting} />
            </Panel>
          </Box>
        )}
        {can.operate && (
          <Box sx={SECTIONS.audit}>
            <Panel id="audit" title="Audit trail">
              <AuditTrail />
            </Panel>
          </Box>
        )}
        {can.administer && (
          <Box sx={SECTIONS.keys}>
            <Panel id="keys" title="API keys">
              <ApiKeys />
            </Panel>
          </Box>
        )}
      </Box>

      <ExplainDrawer target={explain} open={drawerOpen} onClose={() => setDrawerOpen(false)} records={can.operate} />
      <KillSwitchDialog
        target={killSwitch.asking}
        pending={killSwitch.pending}
        failure={killSwitch.failure}
        onConfirm={(reason) => void killSwitch.confirm(reason)}
        onCancel={killSwitch.dismiss}
      />
      <CommandPalette open={paletteOpen} onClose={() => setPaletteOpen(false)} commands={commands} />
    </Box>
  );
}
