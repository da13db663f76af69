import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { MONO_FONTS } from '../theme';
import type { Attempt, ExecuteSummary } from '../types';
import type { PlannerFailure } from '../usePlanner';
import { ErrorNotice } from './ErrorNotice';

function Attempts({ attempts }: { attempts: Attempt[] }) {
  return (
    <Box component="ol" aria-label="Attempts" sx={{ m: 0, pl: 2.5 }}>
      {attempts.map((attempt, index) => (
        <li key={`${attempt.model}-${index}`} data-outcome={attempt.outcome}>
          <Typography component="span" variant="body2" sx={{ fontFamily: MONO_FONTS }}>
            {attempt.model}
          </Typography>{' '}
          <Chip
            size="small"
            label={attempt.outcome}
            color={attempt.outcome === 'ok' ? 'success' : 'warning'}
            variant="outlined"
          />{' '}
          <Typography component="span" variant="caption">
            {attempt.status ?? '—'} · {attempt.latency_ms.toFixed(1)} ms{attempt.detail ? ` · ${attempt.detail}` : ''}
          </Typography>
        </li>
      ))}
    </Box>
  );
}

function Summary({ summary, onExplain }: { summary: ExecuteSummary; onExplain?: (summary: ExecuteSummary) => void }) {
  const facts: [string, string][] = [
    ['Audit id', summary.audit_id],
    ['Model', summary.model],
    ['Rule', summary.rule],
    [
      'Tokens',
      `${summary.usage.prompt_tokens} in · ${summary.usage.completion_tokens} out${summary.usage.estimated ? ' (estimated)' : ''}`,
    ],
    ['Cost', `$${summary.cost_usd.toFixed(6)}`],
    ['Latency', `${summary.latency_ms.toFixed(0)} ms`],
  ];
  return (
    <Box aria-label="Run summary" role="group" data-audit-id={summary.audit_id}>
      <Box component="dl" sx={{ display: 'grid', gridTemplateColumns: 'max-content 1fr', columnGap: 2, rowGap: 0.25, m: 0 }}>
        {facts.map(([label, value]) => (
          <Box key={label} sx={{ display: 'contents' }}>
            <Typography component="dt" variant="caption" sx={{ opacity: 0.7 }}>
              {label}
            </Typography>
            <Typography component="dd" variant="body2" sx={{ m: 0, fontFamily: MONO_FONTS }}>
              {value}
            </Typography>
          </Box>
        ))}
      </Box>
      {summary.attempts.length > 0 && <Attempts attempts={summary.attempts} />}
      {onExplain && (
        <Button size="small" onClick={() => onExplain(summary)} sx={{ mt: 0.5 }}>
          Explain this run
        </Button>
      )}
    </Box>
  );
}

interface RunOutputProps {
  output: string;
  running: boolean;
  summary: ExecuteSummary | null;
  failure: PlannerFailure | null;
  /** Open the run's decision in the Explain drawer. */
  onExplain?: (summary: ExecuteSummary) => void;
}

function consequenceOf(failure: PlannerFailure): string | undefined {
  if (failure.body.error === 'cancelled') return undefined;
  if (failure.action === 'plan') return 'Nothing was planned.';
  if (failure.body.decision) return 'Denied by the policy: nothing was run (the Explain drawer shows why).';
  if (failure.status >= 400 && failure.status < 500) return 'Nothing was run.';
  return undefined;
}

/** The streamed answer as it arrives, then the run's audit id, model, tokens, cost, attempts. */
export function RunOutput({ output, running, summary, failure, onExplain }: RunOutputProps) {
  const attempts = failure?.body.attempts ?? [];
  return (
    <Stack sx={{ gap: 1.5 }}>
      <Box
        role="log"
        aria-label="Execution log"
        aria-live="polite"
        aria-busy={running}
        data-state={running ? 'streaming' : summary ? 'done' : 'idle'}
        sx={{
          fontFamily: MONO_FONTS,
          fontSize: '0.8rem',
          whiteSpace: 'pre-wrap',
          wordBreak: 'break-word',
          bgcolor: 'background.default',
          borderRadius: 2,
          p: 1.5,
          minHeight: 96,
          maxHeight: 240,
          overflow: 'auto',
        }}
      >
        {output || (running ? '' : 'Execute a request to see its answer here.')}
        {running && (
          <Box component="span" className="caret" aria-hidden>
            ▍
          </Box>
        )}
      </Box>
      {summary && <Summary summary={summary} onExplain={onExplain} />}
      {failure && (
        <>
          <ErrorNotice status={failure.status} body={failure.body} consequence={consequenceOf(failure)} />
          {attempts.length > 0 && <Attempts attempts={attempts} />}
        </>
      )}
    </Stack>
  );
}
