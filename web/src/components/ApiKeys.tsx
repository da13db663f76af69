import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogContentText from '@mui/material/DialogContentText';
import DialogTitle from '@mui/material/DialogTitle';
import Stack from '@mui/material/Stack';
import { DataGrid, type GridColDef } from '@mui/x-data-grid';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, fetchKeys, revokeKey } from '../api';
import type { ApiErrorBody, ApiKey } from '../types';
import { ErrorNotice } from './ErrorNotice';
import { NewKeyForm } from './NewKeyForm';

type KeyStatus = 'active' | 'revoked' | 'expired';

/** Whether a key still opens anything, at `now`. */
export function keyStatus(key: ApiKey, now: number = Date.now()): KeyStatus {
  if (key.revoked_at) return 'revoked';
  if (key.expires_at && Date.parse(key.expires_at) <= now) return 'expired';
  return 'active';
}

interface Failure {
  status: number;
  body: ApiErrorBody;
  action: 'load' | 'revoke';
}

function failureOf(action: Failure['action'], exc: unknown): Failure {
  if (exc instanceof ApiError) return { action, status: exc.status, body: exc.body };
  return { action, status: 0, body: { error: 'client_error', message: String(exc) } };
}

function columns(onRevoke: (key: ApiKey) => void): GridColDef<ApiKey>[] {
  return [
    { field: 'name', headerName: 'Name', flex: 1, minWidth: 140 },
    {
      field: 'roles',
      headerName: 'Roles',
      width: 230,
      sortable: false,
      renderCell: ({ row }) => (
        <Stack direction="row" sx={{ gap: 0.5, alignItems: 'center', height: '100%' }}>
          {row.roles.map((role) => (
            <Chip key={role} size="small" variant="outlined" label={role} />
          ))}
        </Stack>
      ),
    },
    { field: 'team', headerName: 'Team', width: 110, renderCell: ({ row }) => row.team ?? '—' },
    {
      field: 'created_at',
      headerName: 'Created',
      width: 230,
      renderCell: ({ row }) => `${row.created_at}${row.created_by ? ` by ${row.created_by}` : ''}`,
    },
    { field: 'last_used_at', headerName: 'Last used', width: 190, renderCell: ({ row }) => row.last_used_at ?? 'never' },
    { field: 'expires_at', headerName: 'Expires', width: 190, renderCell: ({ row }) => row.expires_at ?? 'never' },
    {
      field: 'status',
      headerName: 'Status',
      width: 100,
      valueGetter: (_value, row) => keyStatus(row),
      renderCell: ({ value }) => (
        <Chip size="small" label={String(value)} color={value === 'active' ? 'success' : 'default'} variant="outlined" />
      ),
    },
    {
      field: 'actions',
      headerName: '',
      width: 100,
      sortable: false,
      renderCell: ({ row }) =>
        row.revoked_at ? null : (
          <Button size="small" color="error" onClick={() => onRevoke(row)} aria-label={`Revoke key ${row.name}`}>
            Revoke
          </Button>
        ),
    },
  ];
}

interface RevokeDialogProps {
  target: ApiKey | null;
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}

function RevokeDialog({ target, busy, onConfirm, onCancel }: RevokeDialogProps) {
  // Keep naming the key while the dialog fades out after target went null.
  const shown = useRef(target);
  if (target) shown.current = target;
  return (
    <Dialog open={target !== null} onClose={onCancel} aria-labelledby="revoke-title" aria-describedby="revoke-consequence">
      <DialogTitle id="revoke-title">Revoke key “{shown.current?.name}”?</DialogTitle>
      <DialogContent>
        <DialogContentText id="revoke-consequence">
          Every call made with it is refused from now on, and the sessions it opened end. A revoked key cannot be
          restored; its holder needs a new one.
        </DialogContentText>
      </DialogContent>
      <DialogActions>
        <Button onClick={onCancel}>Cancel</Button>
        <Button variant="contained" color="error" onClick={onConfirm} disabled={busy}>
          Confirm
        </Button>
      </DialogActions>
    </Dialog>
  );
}

interface ApiKeysProps {
  /** When false the grid renders every row and column (for jsdom, which measures nothing). */
  virtualize?: boolean;
}

/** Every API key: create one (its secret shown once), revoke one after a confirmation. */
export function ApiKeys({ virtualize = true }: ApiKeysProps) {
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [busy, setBusy] = useState(false);
  const grid = useMemo(() => columns(setRevoking), []);

  const load = useCallback(async (): Promise<void> => {
    try {
      setKeys(await fetchKeys());
    } catch (exc) {
      setFailure(failureOf('load', exc));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const revoke = async (): Promise<void> => {
    if (!revoking) return;
    setBusy(true);
    setFailure(null);
    try {
      const revoked = await revokeKey(revoking.id);
      setKeys((previous) => (previous ?? []).map((key) => (key.id === revoked.id ? revoked : key)));
    } catch (exc) {
      setFailure(failureOf('revoke', exc));
    } finally {
      setBusy(false);
      setRevoking(null);
    }
  };

  return (
    <Stack sx={{ gap: 1.5 }}>
      <NewKeyForm onCreated={(key) => setKeys((previous) => [key, ...(previous ?? [])])} />
      {failure && (
        <ErrorNotice
          status={failure.status}
          body={failure.body}
          consequence={failure.action === 'revoke' ? 'The key was not revoked.' : undefined}
        />
      )}
      <Box sx={{ minWidth: 0 }}>
        <DataGrid
          aria-label="API keys"
          rows={keys ?? []}
          columns={grid}
          density="compact"
          autoHeight
          loading={keys === null && failure === null}
          hideFooter
          disableRowSelectionOnClick
          disableColumnMenu
          disableVirtualization={!virtualize}
          localeText={{ noRowsLabel: 'No API keys' }}
          sx={{ borderRadius: 2 }}
        />
      </Box>
      <RevokeDialog target={revoking} busy={busy} onConfirm={() => void revoke()} onCancel={() => setRevoking(null)} />
    </Stack>
  );
}
