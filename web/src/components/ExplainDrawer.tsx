import CloseIcon from '@mui/icons-material/Close';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import CircularProgress from '@mui/material/CircularProgress';
import Divider from '@mui/material/Divider';
import Drawer from '@mui/material/Drawer';
import IconButton from '@mui/material/IconButton';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import type { ReactNode } from 'react';
import { fromRecord, type ExplainTarget, type ExplainView } from '../explain';
import { MONO_FONTS } from '../theme';
import type { Reason } from '../types';
import { useDecisionDetail, type DecisionDetail } from '../useDecisionDetail';
import { DecisionCounters } from './DecisionCounters';
import { ErrorNotice } from './ErrorNotice';
import { RunFacts } from './RunFacts';
import { TraceSection } from './TraceSection';

type ChipColour = 'success' | 'info' | 'default' | 'warning' | 'error';

function reasonColour(reason: string): ChipColour {
  if (reason === 'chosen') return 'success';
  if (reason === 'eligible') return 'info';
  if (reason.endsWith('exhausted') || reason.includes('closed') || reason.includes('denied')) return 'warning';
  return 'default';
}

function Field({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <Box>
      <Typography variant="caption" sx={{ opacity: 0.7, display: 'block' }}>
        {label}
      </Typography>
      <Typography
        component="div"
        data-testid={testId}
        sx={{ fontWeight: 650, fontFamily: MONO_FONTS, wordBreak: 'break-all' }}
      >
        {value}
      </Typography>
    </Box>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Box>
      <Typography variant="h3" component="h3" gutterBottom>
        {title}
      </Typography>
      {children}
    </Box>
  );
}

function Candidate({ reason, cost }: { reason: Reason; cost: number | undefined }) {
  return (
    <Box component="li" data-model={reason.model} data-reason={reason.reason} sx={{ py: 0.75 }}>
      <Stack direction="row" sx={{ alignItems: 'center', gap: 1, flexWrap: 'wrap' }}>
        <Typography component="span" sx={{ fontFamily: MONO_FONTS, fontWeight: 600 }}>
          {reason.model}
        </Typography>
        <Chip size="small" label={reason.reason} color={reasonColour(reason.reason)} />
        {cost !== undefined && (
          <Typography component="span" variant="caption" sx={{ opacity: 0.7 }}>
            est. ${cost.toFixed(5)}
          </Typography>
        )}
      </Stack>
      <Typography variant="body2" sx={{ opacity: 0.85, mt: 0.25 }}>
        {reason.detail}
      </Typography>
    </Box>
  );
}

/** Every candidate with its reason; a candidate the decision gave no reason for is still listed. */
function candidateReasons(view: ExplainView): Reason[] {
  const named = new Set(view.reasons.map((reason) => reason.model));
  const silent = view.candidates
    .filter((model) => !named.has(model))
    .map((model) => ({ model, reason: 'no_reason', detail: 'the decision gives no reason for this candidate' }));
  return [...view.reasons, ...silent];
}

/** "r3-e49d63b2a8a78f04 · revision 3", or what part of it is known. */
function revisionText(view: ExplainView): string | null {
  if (view.revision && view.revisionNumber !== null) return `${view.revision} · revision ${view.revisionNumber}`;
  if (view.revision) return view.revision;
  return view.revisionNumber !== null ? `revision ${view.revisionNumber}` : null;
}

function RecordState({ detail, decisionId }: { detail: DecisionDetail; decisionId: string }) {
  const { record } = detail;
  switch (record.state) {
    case 'loading':
      return (
        <Stack direction="row" role="status" sx={{ alignItems: 'center', gap: 1 }}>
          <CircularProgress size={16} />
          <Typography variant="body2">Loading the record of decision {decisionId}…</Typography>
        </Stack>
      );
    case 'not_recorded':
      return (
        <Alert
          severity="info"
          variant="outlined"
          role="status"
          data-record="not_recorded"
          action={
            <Button size="small" color="inherit" onClick={detail.retryRecord}>
              Try again
            </Button>
          }
        >
          Decision {decisionId} is not recorded yet: records are written within about a second of the decision.
        </Alert>
      );
    case 'failed':
      return <ErrorNotice status={record.status} body={record.body} consequence="The decision record could not be read." />;
    default:
      return null;
  }
}

function RunState({ detail, planned }: { detail: DecisionDetail; planned: string | null }) {
  const { run } = detail;
  switch (run.state) {
    case 'loaded':
      return <RunFacts run={run.value} planned={planned} />;
    case 'loading':
      return (
        <Stack direction="row" role="status" sx={{ alignItems: 'center', gap: 1 }}>
          <CircularProgress size={16} />
          <Typography variant="body2">Loading run {detail.auditId}…</Typography>
        </Stack>
      );
    case 'failed':
      return run.status === 404 ? (
        <Alert
          severity="info"
          variant="outlined"
          action={
            <Button size="small" color="inherit" onClick={detail.retryRun}>
              Try again
            </Button>
          }
        >
          Run {detail.auditId} has no stored report yet (it may still be running).
        </Alert>
      ) : (
        <ErrorNotice status={run.status} body={run.body} consequence="The run report could not be read." />
      );
    case 'idle':
      return <Typography variant="body2">No run: this decision was not executed.</Typography>;
  }
}

function Explanation({ view, detail, records }: { view: ExplainView; detail: DecisionDetail; records: boolean }) {
  const revision = revisionText(view);
  const candidates = candidateReasons(view);
  return (
    <>
      <Stack direction="row" sx={{ alignItems: 'center', gap: 1, flexWrap: 'wrap' }}>
        <Chip label={view.allow ? '✔ allowed' : '✖ denied'} color={view.allow ? 'success' : 'error'} data-allow={String(view.allow)} />
        <Chip size="small" variant="outlined" label={`from ${view.source}`} />
      </Stack>
      <Box sx={{ display: 'grid', gridTemplateColumns: '1fr 1fr', gap: 1.5 }}>
        <Field label="Winning rule" value={view.rule ?? '—'} />
        <Field label="Model" value={view.model ?? '—'} />
        {view.denial && <Field label="Denial" value={view.denial} />}
        {revision && <Field label="Revision" value={revision} testId="drawer-revision" />}
        {view.decisionId && <Field label="Decision id" value={view.decisionId} />}
        {detail.auditId && <Field label="Audit id" value={detail.auditId} />}
      </Box>
      <Divider />
      <Section title="Candidates">
        {candidates.length === 0 ? (
          <Typography variant="body2">No candidate reasons in this decision.</Typography>
        ) : (
          <Box component="ul" aria-label="Candidate reasons" sx={{ listStyle: 'none', m: 0, p: 0 }}>
            {candidates.map((reason) => (
              <Candidate key={`${reason.model}:${reason.reason}`} reason={reason} cost={view.estimatedCost[reason.model]} />
            ))}
          </Box>
        )}
      </Section>
      {view.counters && (
        <Section title="Counters read">
          <DecisionCounters counters={view.counters} />
        </Section>
      )}
      {(records || detail.run.state !== 'idle') && (
        <>
          <Divider />
          <Section title="Run">
            <RunState detail={detail} planned={view.model} />
          </Section>
        </>
      )}
      <Divider />
      <TraceSection
        trace={view.trace}
        fullTrace={view.fullTrace}
        replay={detail.replay}
        revision={view.revision}
        onReplay={records && view.decisionId ? detail.replayFull : undefined}
      />
    </>
  );
}

interface ExplainDrawerProps {
  target: ExplainTarget | null;
  open: boolean;
  onClose: () => void;
  /** Whether the key may read decision records, runs and replays (the operator role). */
  records: boolean;
  /** How long to wait before asking again for a decision not recorded yet. */
  retryDelayMs?: number;
}

/**
 * Why THIS decision went where it went: its revision, rule, every candidate's reason, the
 * counters OPA read, the run that followed (who served, at what cost), and OPA's full trace
 * from replaying the recorded input under the recorded revision.
 */
export function ExplainDrawer({ target, open, onClose, records, retryDelayMs }: ExplainDrawerProps) {
  const detail = useDecisionDetail(target, { enabled: records, retryDelayMs });
  const preview = target?.preview ?? null;
  const view = detail.record.state === 'loaded' ? fromRecord(detail.record.value, preview) : preview;
  const run = detail.run.state === 'loaded' ? detail.run.value : null;
  return (
    <Drawer
      anchor="right"
      open={open}
      onClose={onClose}
      slotProps={{ paper: { 'aria-labelledby': 'explain-title', sx: { width: { xs: '100%', sm: 600 } } } }}
    >
      <Stack sx={{ p: 2.5, gap: 2 }} data-testid="explain-drawer" data-record={detail.record.state}>
        <Stack direction="row" sx={{ alignItems: 'center', justifyContent: 'space-between' }}>
          <Typography variant="h2" component="h2" id="explain-title">
            Explain route
          </Typography>
          <IconButton aria-label="Close explanation" onClick={onClose}>
            <CloseIcon />
          </IconButton>
        </Stack>
        {!target ? (
          <Typography>No decision yet: plan a request first.</Typography>
        ) : (
          <>
            {target.decisionId && <RecordState detail={detail} decisionId={target.decisionId} />}
            {view && <Explanation view={view} detail={detail} records={records} />}
            {!view && run && (
              <Section title="Run">
                <RunFacts run={run} planned={null} />
              </Section>
            )}
          </>
        )}
      </Stack>
    </Drawer>
  );
}
