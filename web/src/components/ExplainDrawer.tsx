import CloseIcon from '@mui/icons-material/Close';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Divider from '@mui/material/Divider';
import Drawer from '@mui/material/Drawer';
import IconButton from '@mui/material/IconButton';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { parseTraceLine, type ExplainView } from '../explain';
import { MONO_FONTS } from '../theme';
import type { Reason } from '../types';

/** Trace lines drawn at most (a full trace of a big policy runs to thousands). */
export const TRACE_LINE_LIMIT = 5000;

type ChipColour = 'success' | 'info' | 'default' | 'warning' | 'error';

function reasonColour(reason: string): ChipColour {
  if (reason === 'chosen') return 'success';
  if (reason === 'eligible') return 'info';
  if (reason.endsWith('exhausted') || reason.includes('closed') || reason.includes('denied')) return 'warning';
  return 'default';
}

function Field({ label, value }: { label: string; value: string }) {
  return (
    <Box>
      <Typography variant="caption" sx={{ opacity: 0.7, display: 'block' }}>
        {label}
      </Typography>
      <Typography component="div" sx={{ fontWeight: 650, fontFamily: MONO_FONTS, wordBreak: 'break-all' }}>
        {value}
      </Typography>
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

function Trace({ lines }: { lines: string[] }) {
  const shown = lines.slice(0, TRACE_LINE_LIMIT);
  return (
    <Box
      component="ol"
      aria-label="OPA trace"
      sx={{
        listStyle: 'none',
        m: 0,
        p: 1,
        fontFamily: MONO_FONTS,
        fontSize: '0.75rem',
        lineHeight: 1.5,
        bgcolor: 'background.default',
        borderRadius: 2,
        maxHeight: '45vh',
        overflow: 'auto',
        whiteSpace: 'pre',
      }}
    >
      {shown.map((line, index) => {
        const { location, text } = parseTraceLine(line);
        return (
          // Trace lines repeat verbatim; their position is their identity.
          <li key={index} className="trace-line">
            {location && (
              <Box component="span" className="trace-location" sx={{ color: 'secondary.main', mr: 1 }}>
                {location}
              </Box>
            )}
            {text}
          </li>
        );
      })}
      {lines.length > shown.length && <li>… {lines.length - shown.length} more lines</li>}
    </Box>
  );
}

interface ExplainDrawerProps {
  view: ExplainView | null;
  open: boolean;
  onClose: () => void;
  /** Re-plan the same request with `?explain=full`; absent when that is not possible. */
  onFullTrace?: () => void;
  fullTraceBusy?: boolean;
}

/** Why a request goes where it goes: rule, model, every candidate's reason, OPA's trace. */
export function ExplainDrawer({ view, open, onClose, onFullTrace, fullTraceBusy = false }: ExplainDrawerProps) {
  return (
    <Drawer
      anchor="right"
      open={open}
      onClose={onClose}
      slotProps={{ paper: { 'aria-labelledby': 'explain-title', sx: { width: { xs: '100%', sm: 560 } } } }}
    >
      <Stack sx={{ p: 2.5, gap: 2 }} data-testid="explain-drawer">
        <Stack direction="row" sx={{ alignItems: 'center', justifyContent: 'space-between' }}>
          <Typography variant="h2" component="h2" id="explain-title">
            Explain route
          </Typography>
          <IconButton aria-label="Close explanation" onClick={onClose}>
            <CloseIcon />
          </IconButton>
        </Stack>
        {!view ? (
          <Typography>No decision yet: plan a request first.</Typography>
        ) : (
          <>
            <Stack direction="row" sx={{ alignItems: 'center', gap: 1, flexWrap: 'wrap' }}>
              <Chip
                label={view.allow ? '✔ allowed' : '✖ denied'}
                color={view.allow ? 'success' : 'error'}
                data-allow={String(view.allow)}
              />
              <Chip size="small" variant="outlined" label={`from ${view.source}`} />
              {view.policyVersion !== null && (
                <Chip size="small" variant="outlined" label={`policy v${view.policyVersion}`} />
              )}
            </Stack>
            <Box sx={{ display: 'grid', gridTemplateColumns: '1fr 1fr', gap: 1.5 }}>
              <Field label="Winning rule" value={view.rule ?? '—'} />
              <Field label="Model" value={view.model ?? '—'} />
              {view.denial && <Field label="Denial" value={view.denial} />}
              {view.decisionId && <Field label="Decision id" value={view.decisionId} />}
            </Box>
            <Divider />
            <Box>
              <Typography variant="h3" component="h3" gutterBottom>
                Candidates
              </Typography>
              {view.reasons.length === 0 ? (
                <Typography variant="body2">No candidate reasons in this decision.</Typography>
              ) : (
                <Box component="ul" aria-label="Candidate reasons" sx={{ listStyle: 'none', m: 0, p: 0 }}>
                  {view.reasons.map((reason) => (
                    <Candidate
                      key={`${reason.model}:${reason.reason}`}
                      reason={reason}
                      cost={view.estimatedCost[reason.model]}
                    />
                  ))}
                </Box>
              )}
            </Box>
            <Divider />
            <Box>
              <Stack direction="row" sx={{ alignItems: 'center', justifyContent: 'space-between', mb: 1 }}>
                <Typography variant="h3" component="h3">
                  {view.fullTrace ? 'OPA full trace' : 'OPA trace'} {view.trace ? `(${view.trace.length} lines)` : ''}
                </Typography>
                {onFullTrace && (
                  <Button
                    size="small"
                    variant="outlined"
                    onClick={onFullTrace}
                    disabled={fullTraceBusy || view.fullTrace}
                  >
                    {fullTraceBusy ? 'Tracing…' : view.fullTrace ? 'Full trace shown' : 'Full trace'}
                  </Button>
                )}
              </Stack>
              {view.trace === null ? (
                <Typography variant="body2">
                  Live events carry no trace; plan the request to see OPA&apos;s trace.
                </Typography>
              ) : view.trace.length === 0 ? (
                <Typography variant="body2">No trace lines (explain was off).</Typography>
              ) : (
                <Trace lines={view.trace} />
              )}
            </Box>
          </>
        )}
      </Stack>
    </Drawer>
  );
}
