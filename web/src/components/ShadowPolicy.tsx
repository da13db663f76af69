import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogContentText from '@mui/material/DialogContentText';
import DialogTitle from '@mui/material/DialogTitle';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { count, percent } from '../format';
import type { ShadowState } from '../types';
import { useShadowPolicy, type ShadowControls, type ShadowNotice } from '../useShadowPolicy';
import { ErrorNotice } from './ErrorNotice';

const NOT_DONE = { set: 'No shadow revision was set.', drop: 'The shadow revision was not dropped.', promote: 'Nothing was promoted.' };

function Facts({ state }: { state: ShadowState }) {
  const facts: [string, string, string][] = [
    ['revision', 'Shadow revision', state.revision === null ? 'none' : `r${state.revision}`],
    ['since', 'Since', state.since ? `${state.since}${state.set_by ? ` (set by ${state.set_by})` : ''}` : '—'],
    ['evaluated', 'Evaluated', count(state.evaluated)],
    ['disagreements', 'Disagreements', count(state.disagreements)],
    ['rate', 'Disagreement rate', percent(state.rate)],
  ];
  return (
    <Box component="dl" sx={{ display: 'grid', gridTemplateColumns: 'max-content 1fr', columnGap: 2, rowGap: 0.25, m: 0 }}>
      {facts.map(([field, label, value]) => (
        <Box key={field} sx={{ display: 'contents' }}>
          <Typography component="dt" variant="caption" sx={{ opacity: 0.7 }}>
            {label}
          </Typography>
          <Typography component="dd" variant="body2" sx={{ m: 0 }} data-field={field}>
            {value}
          </Typography>
        </Box>
      ))}
    </Box>
  );
}

function Notice({ notice }: { notice: ShadowNotice }) {
  switch (notice.kind) {
    case 'done':
      return (
        <Alert severity="success" variant="outlined" role="status">
          {notice.message}
        </Alert>
      );
    case 'conflict':
      return (
        <Alert severity="warning" variant="outlined" role="alert" data-error="precondition_failed">
          Revision {notice.current.version} by {notice.current.updated_by ?? 'unknown'} became active
          {notice.loaded !== null ? ` after this panel loaded v${notice.loaded}` : ''}. Nothing was promoted; promote again
          to replace v{notice.current.version}.
        </Alert>
      );
    case 'failed':
      return <ErrorNotice status={notice.status} body={notice.body} consequence={NOT_DONE[notice.action]} />;
  }
}

function PromoteDialog({
  controls,
  state,
  onClose,
}: {
  controls: ShadowControls;
  state: ShadowState | null;
  onClose: () => void;
}) {
  const open = state !== null && state.revision !== null;
  return (
    <Dialog open={open} onClose={onClose} aria-labelledby="promote-title" aria-describedby="promote-consequence">
      {state && state.revision !== null && (
        <>
          <DialogTitle id="promote-title">Promote revision {state.revision}?</DialogTitle>
          <DialogContent>
            <DialogContentText id="promote-consequence">
              Revision {state.revision} becomes the active policy on every proxy
              {controls.active ? `, replacing v${controls.active.version}` : ''}. In shadow it disagreed with the active
              policy on {count(state.disagreements)} of {count(state.evaluated)} decisions ({percent(state.rate)}).
            </DialogContentText>
          </DialogContent>
          <DialogActions>
            <Button onClick={onClose}>Cancel</Button>
            <Button
              variant="contained"
              color="warning"
              onClick={() => {
                onClose();
                void controls.promote();
              }}
            >
              Promote
            </Button>
          </DialogActions>
        </>
      )}
    </Dialog>
  );
}

interface ShadowPolicyProps {
  /** The version the live feed last announced: a change reloads the state. */
  announcedVersion: number | null;
  pollMs?: number;
}

/** Set a stored revision as shadow, watch how often it disagrees with the active one, drop or promote it. */
export function ShadowPolicy({ announcedVersion, pollMs }: ShadowPolicyProps) {
  const controls = useShadowPolicy(announcedVersion, pollMs);
  const { shadow, pending, notice } = controls;
  const [revision, setRevision] = useState('');
  const [confirming, setConfirming] = useState(false);
  const state = shadow.state === 'loaded' ? shadow.value : null;
  const wanted = Number(revision);
  const valid = revision.trim() !== '' && Number.isInteger(wanted) && wanted > 0;
  const hasShadow = state !== null && state.revision !== null;

  return (
    <Stack sx={{ gap: 1.5 }}>
      {shadow.state === 'loading' && <Typography variant="body2">Loading the shadow policy…</Typography>}
      {shadow.state === 'failed' && <ErrorNotice status={shadow.status} body={shadow.body} />}
      {state && <Facts state={state} />}
      {state && state.revision === null && (
        <Typography variant="body2" sx={{ opacity: 0.8 }}>
          No shadow revision: decisions are evaluated under the active policy only.
        </Typography>
      )}
      <Stack
        component="form"
        direction="row"
        aria-label="Set a shadow revision"
        onSubmit={(event) => {
          event.preventDefault();
          if (valid) {
            void controls.set(wanted).then((done) => {
              if (done) setRevision('');
            });
          }
        }}
        sx={{ gap: 1, alignItems: 'center' }}
      >
        <TextField
          size="small"
          label="Revision number"
          type="number"
          value={revision}
          onChange={(event) => setRevision(event.target.value)}
          slotProps={{ htmlInput: { min: 1, step: 1 } }}
          sx={{ width: 150 }}
        />
        <Button type="submit" size="small" variant="outlined" disabled={!valid || pending !== null}>
          Set as shadow
        </Button>
      </Stack>
      <Stack direction="row" sx={{ gap: 1, flexWrap: 'wrap' }}>
        <Button size="small" onClick={() => void controls.drop()} disabled={!hasShadow || pending !== null}>
          Drop shadow
        </Button>
        <Button size="small" color="warning" variant="contained" onClick={() => setConfirming(true)} disabled={!hasShadow || pending !== null}>
          Promote…
        </Button>
        <Box sx={{ flex: 1 }} />
        <Button size="small" onClick={() => void controls.refresh()} disabled={pending !== null}>
          Refresh
        </Button>
      </Stack>
      {notice && <Notice notice={notice} />}
      <PromoteDialog controls={controls} state={confirming ? state : null} onClose={() => setConfirming(false)} />
    </Stack>
  );
}
