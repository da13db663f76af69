import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Checkbox from '@mui/material/Checkbox';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormGroup from '@mui/material/FormGroup';
import FormLabel from '@mui/material/FormLabel';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import { useState } from 'react';
import { ApiError, createKey } from '../api';
import { ROLES } from '../roles';
import { MONO_FONTS } from '../theme';
import type { ApiErrorBody, ApiKey, CreatedApiKey, NewApiKey, Role } from '../types';
import { ErrorNotice } from './ErrorNotice';

interface Draft {
  name: string;
  roles: Role[];
  team: string;
  /** A `datetime-local` value (the browser's local time), or empty for a key that does not expire. */
  expires: string;
}

const EMPTY: Draft = { name: '', roles: ['client'], team: '', expires: '' };

/** The POST /keys body: optional fields left out rather than sent empty. */
export function keyRequest(draft: Draft): NewApiKey {
  const request: NewApiKey = { name: draft.name.trim(), roles: ROLES.filter((role) => draft.roles.includes(role)) };
  if (draft.team.trim()) request.team = draft.team.trim();
  if (draft.expires) request.expires_at = new Date(draft.expires).toISOString();
  return request;
}

/** The new key's secret, this once: copy it, then dismiss it for good. */
function RevealedKey({ created, onDone }: { created: CreatedApiKey; onDone: () => void }) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied('yes');
    } catch {
      // No clipboard (a plain-http origin, or the permission refused): the field is selectable.
      setCopied('failed');
    }
  };
  return (
    <Alert
      severity="warning"
      variant="outlined"
      role="alert"
      aria-label="New API key"
      action={
        <Button color="inherit" size="small" onClick={onDone}>
          Done
        </Button>
      }
    >
      <AlertTitle>Key “{created.name}” created</AlertTitle>
      <Box component="p" sx={{ mt: 0 }}>
        Copy it now: this key will not be shown again. Only a hash of it is stored.
      </Box>
      <Stack direction="row" sx={{ gap: 1, alignItems: 'center' }}>
        <TextField
          size="small"
          label="The new key"
          value={created.key}
          onFocus={(event) => event.target.select()}
          slotProps={{ htmlInput: { readOnly: true, spellCheck: false, style: { fontFamily: MONO_FONTS } } }}
          sx={{ flex: 1, minWidth: 240 }}
        />
        <Button variant="contained" size="small" onClick={() => void copy()}>
          {copied === 'yes' ? 'Copied' : 'Copy'}
        </Button>
      </Stack>
      {copied === 'failed' && (
        <Box component="p" sx={{ mb: 0 }}>
          Could not reach the clipboard: select the key and copy it by hand.
        </Box>
      )}
    </Alert>
  );
}

interface NewKeyFormProps {
  /** The created record, without its secret, for the list. */
  onCreated: (key: ApiKey) => void;
}

/** Name, roles, team and expiry of a new key; on success its secret is shown once. */
export function NewKeyForm({ onCreated }: NewKeyFormProps) {
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<{ status: number; body: ApiErrorBody } | null>(null);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);

  const toggleRole = (role: Role, on: boolean): void =>
    setDraft({ ...draft, roles: on ? [...draft.roles, role] : draft.roles.filter((held) => held !== role) });

  const submit = async (): Promise<void> => {
    setBusy(true);
    setFailure(null);
    try {
      const answer = await createKey(keyRequest(draft));
      setCreated(answer);
      setDraft(EMPTY);
      const { key: _secret, ...record } = answer;
      onCreated(record);
    } catch (exc) {
      setFailure(
        exc instanceof ApiError
          ? { status: exc.status, body: exc.body }
          : { status: 0, body: { error: 'client_error', message: String(exc) } },
      );
    } finally {
      setBusy(false);
    }
  };

  const ready = draft.name.trim().length > 0 && draft.roles.length > 0 && !busy;

  return (
    <Stack sx={{ gap: 1.5 }}>
      {created && <RevealedKey created={created} onDone={() => setCreated(null)} />}
      <Box
        component="form"
        aria-label="Create an API key"
        onSubmit={(event) => {
          event.preventDefault();
          if (ready) void submit();
        }}
        sx={{ display: 'flex', gap: 1.5, alignItems: 'center', flexWrap: 'wrap' }}
      >
        <TextField
          size="small"
          required
          label="Name"
          value={draft.name}
          onChange={(event) => setDraft({ ...draft, name: event.target.value })}
        />
        <TextField
          size="small"
          label="Team"
          value={draft.team}
          onChange={(event) => setDraft({ ...draft, team: event.target.value })}
        />
        <TextField
          size="small"
          type="datetime-local"
          label="Expires (local time)"
          value={draft.expires}
          onChange={(event) => setDraft({ ...draft, expires: event.target.value })}
          slotProps={{ inputLabel: { shrink: true } }}
        />
        <Box component="fieldset" sx={{ border: 0, m: 0, p: 0, display: 'flex', alignItems: 'center', gap: 1 }}>
          <FormLabel component="legend" sx={{ float: 'left', mr: 1 }}>
            Roles
          </FormLabel>
          <FormGroup row>
            {ROLES.map((role) => (
              <FormControlLabel
                key={role}
                label={role}
                control={
                  <Checkbox size="small" checked={draft.roles.includes(role)} onChange={(event) => toggleRole(role, event.target.checked)} />
                }
              />
            ))}
          </FormGroup>
        </Box>
        <Button type="submit" variant="contained" disabled={!ready}>
          {busy ? 'Creating…' : 'Create key'}
        </Button>
      </Box>
      {failure && <ErrorNotice status={failure.status} body={failure.body} consequence="No key was created." />}
    </Stack>
  );
}
