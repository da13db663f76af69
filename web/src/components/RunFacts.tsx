import Box from '@mui/material/Box';
import Chip from '@mui/material/Chip';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import { ms, usd } from '../format';
import { MONO_FONTS } from '../theme';
import type { RunReport } from '../types';

/** Who served the run (marked when it was not the planned model), its cost, and every attempt. */
export function RunFacts({ run, planned }: { run: RunReport; planned: string | null }) {
  const fallback = run.model !== null && planned !== null && run.model !== planned;
  return (
    <Stack sx={{ gap: 1 }} role="group" aria-label="Run" data-audit-id={run.audit_id ?? ''}>
      <Stack direction="row" sx={{ alignItems: 'center', gap: 1, flexWrap: 'wrap' }}>
        <Typography variant="body2">Served by</Typography>
        <Typography
          component="span"
          data-testid="drawer-serving-model"
          sx={{ fontFamily: MONO_FONTS, fontWeight: 650 }}
        >
          {run.model ?? 'no model'}
        </Typography>
        {fallback && <Chip size="small" color="warning" label={`fallback from ${planned}`} />}
        <Chip size="small" variant="outlined" label={run.status} color={run.status === 'ok' ? 'success' : 'warning'} />
        {run.cost_usd !== null && (
          <Typography component="span" variant="body2" data-testid="drawer-cost">
            cost {usd(run.cost_usd)}
          </Typography>
        )}
        {run.usage && (
          <Typography component="span" variant="caption" sx={{ opacity: 0.75 }}>
            {run.usage.prompt_tokens} in · {run.usage.completion_tokens} out{run.usage.estimated ? ' (estimated)' : ''}
          </Typography>
        )}
      </Stack>
      {run.attempts.length > 0 && (
        <Table size="small" aria-label="Attempts" sx={{ '& td, & th': { px: 0.75, py: 0.25, fontSize: '0.75rem' } }}>
          <TableHead>
            <TableRow>
              <TableCell>Model</TableCell>
              <TableCell>Outcome</TableCell>
              <TableCell align="right">Status</TableCell>
              <TableCell align="right">Latency</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {run.attempts.map((attempt, index) => (
              // Attempts can repeat a model; their order is their identity.
              <TableRow key={index} data-outcome={attempt.outcome} data-model={attempt.model}>
                <TableCell sx={{ fontFamily: MONO_FONTS }}>{attempt.model}</TableCell>
                <TableCell>
                  {attempt.outcome}
                  {attempt.detail && (
                    <Box component="span" sx={{ display: 'block', opacity: 0.7 }}>
                      {attempt.detail}
                    </Box>
                  )}
                </TableCell>
                <TableCell align="right">{attempt.status ?? '—'}</TableCell>
                <TableCell align="right" data-field="latency">
                  {ms(attempt.latency_ms)}
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </Stack>
  );
}
