// What the policy editor says after each action, and its version history.
import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { MONO_FONTS } from '../theme';
import type { ApiErrorBody, PolicyMeta, PolicyRevisionRef } from '../types';
import { ErrorNotice } from './ErrorNotice';

/** The result of the editor's last action. */
export type Outcome =
  | { kind: 'parse_error'; message: string }
  | { kind: 'valid' }
  | { kind: 'saved'; version: number; inStep: boolean | null }
  | { kind: 'conflict'; current: PolicyRevisionRef; loaded: number }
  | { kind: 'kept'; current: PolicyRevisionRef }
  | { kind: 'failed'; status: number; body: ApiErrorBody; action: Action };

export type Action = 'validate' | 'save' | 'load' | 'preview';

export interface ConflictActions {
  onReload: () => void;
  onKeep: (current: PolicyRevisionRef) => void;
}

/** Enough of a sha256 to tell revisions apart at a glance. */
export function shortHash(hash: string | null | undefined): string {
  return hash ? hash.slice(0, 8) : '';
}

function authorship(meta: { updated_by?: string | null; updated_at?: string | null }): string {
  return `by ${meta.updated_by ?? 'unknown'}${meta.updated_at ? ` at ${meta.updated_at}` : ''}`;
}

/** Every stored revision, newest first, the active one marked. */
export function HistoryList({ versions, active }: { versions: PolicyMeta[]; active: number | null }) {
  return (
    <Box component="ol" aria-label="Policy version history" sx={{ listStyle: 'none', m: 0, p: 0, maxHeight: 160, overflow: 'auto' }}>
      {versions.map((meta) => (
        <Box
          component="li"
          key={meta.version}
          data-version={meta.version}
          sx={{ py: 0.25, display: 'flex', gap: 1, alignItems: 'baseline', flexWrap: 'wrap' }}
        >
          <Chip
            size="small"
            label={`v${meta.version}`}
            color={meta.version === active ? 'primary' : 'default'}
            variant={meta.version === active ? 'filled' : 'outlined'}
          />
          <Typography variant="body2" component="span">
            {meta.label ?? ''} by {meta.updated_by ?? 'unknown'}
          </Typography>
          <Typography variant="caption" component="span" sx={{ opacity: 0.7 }}>
            {meta.updated_at ?? ''}
          </Typography>
          {meta.hash && (
            <Typography variant="caption" component="code" sx={{ opacity: 0.7, fontFamily: MONO_FONTS }}>
              {shortHash(meta.hash)}
            </Typography>
          )}
        </Box>
      ))}
    </Box>
  );
}

/** The outcome of the last validate, save, preview or load. */
export function OutcomeNotice({ outcome, active, actions }: { outcome: Outcome; active: number | null; actions: ConflictActions }) {
  switch (outcome.kind) {
    case 'parse_error':
      return (
        <Alert severity="error" variant="outlined" role="alert" data-error="json_parse">
          The JSON does not parse: {outcome.message}. Nothing was sent.
        </Alert>
      );
    case 'valid':
      return (
        <Alert severity="success" variant="outlined" role="status">
          Valid: the document passes the policy schema.
        </Alert>
      );
    case 'saved':
      return (
        <Alert severity="success" variant="outlined" role="status">
          Saved as version {outcome.version}
          {outcome.inStep === true && "; this proxy's OPA sidecar runs it."}
          {outcome.inStep === false &&
            "; this proxy's OPA sidecar has not activated it yet, and decisions under the older version are refused."}
          {outcome.inStep === null && '.'}
        </Alert>
      );
    case 'conflict':
      return (
        <Alert
          severity="warning"
          variant="outlined"
          role="alert"
          data-error="precondition_failed"
          action={
            <Stack direction="row" sx={{ gap: 1 }}>
              <Button size="small" color="inherit" variant="outlined" onClick={actions.onReload}>
                Reload latest
              </Button>
              <Button size="small" color="inherit" onClick={() => actions.onKeep(outcome.current)}>
                Keep my edits
              </Button>
            </Stack>
          }
        >
          <AlertTitle>The policy changed while you were editing</AlertTitle>
          Revision {outcome.current.version} {authorship(outcome.current)} was saved since the editor loaded
          revision {outcome.loaded}. Nothing was saved. Reload latest discards your edit; Keep my edits saves
          over revision {outcome.current.version} on the next Save.
        </Alert>
      );
    case 'kept':
      return (
        <Alert severity="info" variant="outlined" role="status">
          Your edits are kept. Save now replaces revision {outcome.current.version} {authorship(outcome.current)}.
        </Alert>
      );
    case 'failed':
      return (
        <ErrorNotice
          status={outcome.status}
          body={outcome.body}
          consequence={
            outcome.action === 'save' && active !== null
              ? `Nothing was saved: version ${active} is still active.`
              : outcome.action === 'preview'
                ? 'Nothing was simulated.'
                : undefined
          }
        />
      );
  }
}

