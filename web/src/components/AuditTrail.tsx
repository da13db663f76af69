import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import MenuItem from '@mui/material/MenuItem';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { DataGrid, type GridColDef } from '@mui/x-data-grid';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, fetchAudit } from '../api';
import { MONO_FONTS } from '../theme';
import type { ApiErrorBody, AuditEvent, AuditKind, AuditQuery } from '../types';
import { ErrorNotice } from './ErrorNotice';

/** The kinds the server documents; the filter also offers any other kind it has shown. */
export const AUDIT_KINDS: readonly AuditKind[] = [
  'policy.revision',
  'policy.guard',
  'policy.rollback',
  'policy.bundle',
  'kill_switch',
  'key.created',
  'key.revoked',
  'session.login',
  'session.logout',
  'session.login_failed',
];

/** Enough of a content hash to tell revisions apart at a glance. */
export function shortHash(hash: string | null): string {
  return hash ? hash.slice(0, 8) : '—';
}

function mono(value: string | null) {
  return value ? (
    <Box component="code" title={value} sx={{ fontFamily: MONO_FONTS, fontSize: '0.75rem' }}>
      {value}
    </Box>
  ) : (
    '—'
  );
}

const columns: GridColDef<AuditEvent>[] = [
  {
    field: 'at',
    headerName: 'Time',
    width: 200,
    renderCell: ({ row }) => <time dateTime={row.at}>{row.at}</time>,
  },
  { field: 'actor', headerName: 'Actor', width: 140 },
  {
    field: 'kind',
    headerName: 'Kind',
    width: 170,
    renderCell: ({ row }) => (
      <Chip size="small" variant="outlined" label={row.kind} color={row.kind === 'session.login_failed' ? 'warning' : 'default'} />
    ),
  },
  { field: 'subject', headerName: 'Subject', flex: 1, minWidth: 140, renderCell: ({ row }) => row.subject ?? '—' },
  { field: 'request_id', headerName: 'Request id', width: 170, renderCell: ({ row }) => mono(row.request_id) },
  {
    field: 'hashes',
    headerName: 'Before → after',
    width: 180,
    sortable: false,
    valueGetter: (_value, row) => `${shortHash(row.before_hash)} → ${shortHash(row.after_hash)}`,
    renderCell: ({ row, value }) => (
      <Box
        component="code"
        title={`before ${row.before_hash ?? 'none'}\nafter ${row.after_hash ?? 'none'}`}
        sx={{ fontFamily: MONO_FONTS, fontSize: '0.75rem' }}
      >
        {String(value)}
      </Box>
    ),
  },
  {
    field: 'detail',
    headerName: 'Detail',
    flex: 1,
    minWidth: 160,
    sortable: false,
    valueGetter: (_value, row) => (Object.keys(row.detail).length ? JSON.stringify(row.detail) : ''),
    renderCell: ({ value }) => mono(typeof value === 'string' && value ? value : null),
  },
];

interface Filters {
  actor: string;
  kind: string;
}

const NO_FILTERS: Filters = { actor: '', kind: '' };

function queryOf(filters: Filters): AuditQuery {
  return { actor: filters.actor.trim(), kind: filters.kind };
}

interface AuditTrailProps {
  /** When false the grid renders every row and column (for jsdom, which measures nothing). */
  virtualize?: boolean;
}

/** Who changed what, newest first: filter by actor and kind, page back with "Load older". */
export function AuditTrail({ virtualize = true }: AuditTrailProps) {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [applied, setApplied] = useState<Filters>(NO_FILTERS);
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [nextBefore, setNextBefore] = useState<number | null>(null);
  const [loading, setLoading] = useState<'first' | 'older' | null>('first');
  const [failure, setFailure] = useState<{ status: number; body: ApiErrorBody } | null>(null);
  // Answers to a superseded query (the filters changed meanwhile) are dropped.
  const generation = useRef(0);

  const load = useCallback(async (filters: Filters, before: number | null): Promise<void> => {
    const mine = before === null ? ++generation.current : generation.current;
    setLoading(before === null ? 'first' : 'older');
    setFailure(null);
    try {
      const page = await fetchAudit({ ...queryOf(filters), ...(before === null ? {} : { before }) });
      if (mine !== generation.current) return;
      setEvents((previous) => {
        if (before === null) return page.events;
        const known = new Set(previous.map((event) => event.id));
        return [...previous, ...page.events.filter((event) => !known.has(event.id))];
      });
      setNextBefore(page.next_before);
    } catch (exc) {
      if (mine !== generation.current) return;
      setFailure(
        exc instanceof ApiError
          ? { status: exc.status, body: exc.body }
          : { status: 0, body: { error: 'client_error', message: String(exc) } },
      );
    } finally {
      if (mine === generation.current) setLoading(null);
    }
  }, []);

  useEffect(() => {
    void load(applied, null);
  }, [applied, load]);

  const kinds = useMemo(
    () => [...new Set([...AUDIT_KINDS, ...events.map((event) => event.kind), ...(draft.kind ? [draft.kind] : [])])],
    [events, draft.kind],
  );

  return (
    <Stack sx={{ gap: 1.5 }}>
      <Stack
        component="form"
        aria-label="Audit filters"
        direction="row"
        onSubmit={(event) => {
          event.preventDefault();
          // A new object even when unchanged, so "Apply" doubles as refresh.
          setApplied({ ...draft });
        }}
        sx={{ gap: 1.5, alignItems: 'center', flexWrap: 'wrap' }}
      >
        <TextField
          size="small"
          label="Actor"
          value={draft.actor}
          onChange={(event) => setDraft({ ...draft, actor: event.target.value })}
          sx={{ width: 200 }}
        />
        <TextField
          select
          size="small"
          label="Kind"
          value={draft.kind}
          onChange={(event) => setDraft({ ...draft, kind: event.target.value })}
          sx={{ width: 220 }}
        >
          <MenuItem value="">any kind</MenuItem>
          {kinds.map((kind) => (
            <MenuItem key={kind} value={kind}>
              {kind}
            </MenuItem>
          ))}
        </TextField>
        <Button type="submit" variant="outlined" disabled={loading === 'first'}>
          Apply filters
        </Button>
      </Stack>
      {failure && <ErrorNotice status={failure.status} body={failure.body} />}
      <Box sx={{ display: 'flex', flexDirection: 'column', height: 420, minWidth: 0 }}>
        <DataGrid
          aria-label="Audit events"
          rows={events}
          columns={columns}
          density="compact"
          loading={loading === 'first'}
          hideFooter
          disableRowSelectionOnClick
          disableColumnMenu
          disableVirtualization={!virtualize}
          localeText={{ noRowsLabel: loading === 'first' ? 'Loading the audit trail…' : 'No audit events match' }}
          sx={{ borderRadius: 2 }}
        />
      </Box>
      <Stack direction="row" sx={{ alignItems: 'center', gap: 1.5 }}>
        <Typography variant="caption" sx={{ opacity: 0.7 }} role="status">
          {events.length} event{events.length === 1 ? '' : 's'} shown
          {nextBefore === null && events.length > 0 && loading === null ? ' · the oldest is loaded' : ''}
        </Typography>
        <Box sx={{ flex: 1 }} />
        <Button
          size="small"
          variant="outlined"
          disabled={nextBefore === null || loading !== null}
          onClick={() => nextBefore !== null && void load(applied, nextBefore)}
        >
          {loading === 'older' ? 'Loading…' : 'Load older'}
        </Button>
      </Stack>
    </Stack>
  );
}
