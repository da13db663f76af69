import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import CircularProgress from '@mui/material/CircularProgress';
import Collapse from '@mui/material/Collapse';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { count } from '../format';
import { EXAMPLE_LIMIT, impactSentence, modelShifts, outcomeText, reasonCounts } from '../impact';
import { MONO_FONTS } from '../theme';
import type { SimulationResult } from '../types';

function Examples({ result, onOpenDecision }: { result: SimulationResult; onOpenDecision?: (id: string) => void }) {
  const [open, setOpen] = useState(false);
  const examples = result.examples.slice(0, EXAMPLE_LIMIT);
  if (examples.length === 0) return null;
  return (
    <Box>
      <Button size="small" onClick={() => setOpen((shown) => !shown)} aria-expanded={open} aria-controls="impact-examples">
        {open ? 'Hide' : 'Show'} {examples.length} example {examples.length === 1 ? 'decision' : 'decisions'}
      </Button>
      <Collapse in={open}>
        <Box component="ol" id="impact-examples" aria-label="Example decisions" sx={{ m: 0, pl: 2.5 }}>
          {examples.map((example) => (
            <Box component="li" key={example.decision_id} data-decision-id={example.decision_id} sx={{ py: 0.5 }}>
              <Typography variant="body2">
                {onOpenDecision ? (
                  <Button
                    size="small"
                    sx={{ p: 0, minWidth: 0, fontFamily: MONO_FONTS, textTransform: 'none' }}
                    onClick={() => onOpenDecision(example.decision_id)}
                  >
                    {example.decision_id}
                  </Button>
                ) : (
                  <Box component="code" sx={{ fontFamily: MONO_FONTS }}>
                    {example.decision_id}
                  </Box>
                )}
                {': '}
                <span data-side="before">{outcomeText(example.before)}</span>
                {' → '}
                <b data-side="after">{outcomeText(example.after)}</b>
              </Typography>
              {example.reasons.length > 0 && (
                <Box component="ul" sx={{ m: 0, pl: 2, opacity: 0.8 }}>
                  {example.reasons.map((reason) => (
                    <Typography component="li" variant="caption" key={`${reason.model}:${reason.reason}`} sx={{ display: 'list-item' }}>
                      <code>{reason.model}</code> {reason.reason}: {reason.detail}
                    </Typography>
                  ))}
                </Box>
              )}
            </Box>
          ))}
        </Box>
      </Collapse>
    </Box>
  );
}

function Result({ result, stale, onOpenDecision }: { result: SimulationResult; stale: boolean; onOpenDecision?: (id: string) => void }) {
  const reasons = reasonCounts(result);
  const shifts = modelShifts(result);
  return (
    <Alert severity={stale ? 'warning' : 'info'} variant="outlined" icon={false} data-stale={String(stale)}>
      <Stack sx={{ gap: 1 }}>
        <Stack direction="row" sx={{ alignItems: 'center', gap: 1, flexWrap: 'wrap' }}>
          <Typography variant="body2" data-testid="simulate-summary" sx={{ fontWeight: 600 }}>
            {impactSentence(result)}
          </Typography>
          {stale && <Chip size="small" color="warning" label="preview of an earlier edit" />}
        </Stack>
        <Typography variant="caption" sx={{ opacity: 0.75 }}>
          {count(result.kept)} kept · {count(result.still_denied)} still denied · re-decided in {result.elapsed_s.toFixed(1)} s
        </Typography>
        {reasons.length > 0 && (
          <Box>
            <Typography variant="caption" sx={{ opacity: 0.75 }}>
              Reasons after the change
            </Typography>
            <Box component="ul" aria-label="By reason" sx={{ listStyle: 'none', m: 0, p: 0, display: 'flex', flexWrap: 'wrap', gap: 0.5 }}>
              {reasons.map(([reason, n]) => (
                <li key={reason} data-reason={reason}>
                  <Chip size="small" variant="outlined" label={`${reason}: ${count(n)}`} />
                </li>
              ))}
            </Box>
          </Box>
        )}
        {shifts.length > 0 && (
          <Box component="ul" aria-label="By model" sx={{ m: 0, pl: 2.5 }}>
            {shifts.map(({ model, before, after }) => (
              <Typography component="li" variant="body2" key={model} data-model={model}>
                <code>{model}</code>: {count(before)} → {count(after)}
              </Typography>
            ))}
          </Box>
        )}
        <Examples result={result} onOpenDecision={onOpenDecision} />
      </Stack>
    </Alert>
  );
}

interface ImpactPreviewProps {
  /** null while a simulation runs. */
  result: SimulationResult | null;
  /** The editor has changed since this preview was made. */
  stale: boolean;
  onOpenDecision?: (decisionId: string) => void;
}

/** What the edited policy would have decided differently over the recorded decisions. */
export function ImpactPreview({ result, stale, onOpenDecision }: ImpactPreviewProps) {
  if (!result) {
    return (
      <Stack direction="row" role="status" sx={{ alignItems: 'center', gap: 1 }}>
        <CircularProgress size={16} />
        <Typography variant="body2">Re-deciding recorded decisions under the edited policy…</Typography>
      </Stack>
    );
  }
  return (
    <Box role="region" aria-label="Impact preview">
      <Result result={result} stale={stale} onOpenDecision={onOpenDecision} />
    </Box>
  );
}
