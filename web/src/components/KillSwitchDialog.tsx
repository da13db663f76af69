import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogContentText from '@mui/material/DialogContentText';
import DialogTitle from '@mui/material/DialogTitle';
import TextField from '@mui/material/TextField';
import { useState } from 'react';
import type { KillSwitchFailure } from '../useKillSwitch';
import { ErrorNotice } from './ErrorNotice';

/** The server's bound on a reason's length. */
export const REASON_MAX = 500;

const CONSEQUENCE = {
  on:
    'Every routed request the kill switch covers is refused (the policy document\'s kill_switch section; ' +
    'by default every request at LoA 2 or above, or at high risk), on every proxy sharing this store, ' +
    'until someone turns it off again.',
  off: 'Traffic flows again: every request is routed by the policy as usual.',
} as const;

interface KillSwitchDialogProps {
  /** The state the change would set; null keeps the dialog closed. */
  target: boolean | null;
  pending: boolean;
  failure: KillSwitchFailure | null;
  onConfirm: (reason: string) => void;
  onCancel: () => void;
}

function DialogBody({ target, pending, failure, onConfirm, onCancel }: KillSwitchDialogProps & { target: boolean }) {
  const [reason, setReason] = useState('');
  const ready = reason.trim().length > 0 && !pending;
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        if (ready) onConfirm(reason);
      }}
    >
      <DialogTitle id="kill-switch-dialog-title">Turn the kill switch {target ? 'on' : 'off'}?</DialogTitle>
      <DialogContent sx={{ display: 'flex', flexDirection: 'column', gap: 2 }}>
        <DialogContentText id="kill-switch-dialog-consequence">{CONSEQUENCE[target ? 'on' : 'off']}</DialogContentText>
        <TextField
          autoFocus
          fullWidth
          label="Reason"
          value={reason}
          onChange={(event) => setReason(event.target.value)}
          helperText={`Recorded in the audit trail under your name (${reason.length}/${REASON_MAX})`}
          slotProps={{ htmlInput: { maxLength: REASON_MAX, required: true } }}
        />
        {failure && (
          <ErrorNotice status={failure.status} body={failure.body} consequence="The kill switch was not changed." />
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onCancel}>Cancel</Button>
        <Button type="submit" variant="contained" color={target ? 'error' : 'primary'} disabled={!ready}>
          Confirm
        </Button>
      </DialogActions>
    </form>
  );
}

/** Asks before the kill switch changes: what will happen, and a reason (required) for the record. */
export function KillSwitchDialog(props: KillSwitchDialogProps) {
  const { target, onCancel } = props;
  return (
    <Dialog
      open={target !== null}
      onClose={onCancel}
      fullWidth
      maxWidth="sm"
      aria-labelledby="kill-switch-dialog-title"
      aria-describedby="kill-switch-dialog-consequence"
    >
      {target !== null && <DialogBody {...props} target={target} />}
    </Dialog>
  );
}
