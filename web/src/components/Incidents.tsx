import Chip from '@mui/material/Chip';
import Link from '@mui/material/Link';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import { useCallback, useEffect, useState } from 'react';
import { ApiError, call } from '../http';
import type { ApiErrorBody } from '../types';
import { ErrorNotice } from './ErrorNotice';

/** One incident of GET /incidents. */
export interface Incident {
  id: number;
  fingerprint: string;
  alertname: string;
  severity: string;
  model: string | null;
  state: 'firing' | 'resolved';
  summary: string;
  runbook_url: string | null;
  notifications: number;
  github: { number: number; url: string } | null;
  jira: { key: string; url: string } | null;
  silence_id: string | null;
  last_event: string;
  last_event_at: string | null;
  opened_at: string | null;
  work: { pending: number; failed: number };
  problem: string | null;
}

/** GET /incidents. */
export interface IncidentList {
  incidents: Incident[];
  targets: string[];
  pending_work: number;
}

/** GET /incidents?state=open: the incidents whose alert still fires. */
export function fetchOpenIncidents(): Promise<IncidentList> {
  return call<IncidentList>('GET', '/incidents?state=open&limit=50');
}

const SEVERITY_COLORS: Record<string, 'error' | 'warning' | 'info' | 'default'> = {
  critical: 'error',
  warning: 'warning',
  info: 'info',
};

function since(iso: string | null): string {
  return iso ? `${iso.replace('T', ' ').slice(0, 19)} UTC` : '—';
}

interface IncidentsProps {
  /** How often the list is read again (the store is the truth). */
  refreshMs?: number;
}

/** Open incidents: the alert, its tickets (links), whether it is muted, and what happened last. */
export function Incidents({ refreshMs = 10_000 }: IncidentsProps) {
  const [list, setList] = useState<IncidentList | null>(null);
  const [failure, setFailure] = useState<{ status: number; body: ApiErrorBody } | null>(null);

  const load = useCallback(async (): Promise<void> => {
    try {
      setList(await fetchOpenIncidents());
      setFailure(null);
    } catch (error) {
      if (error instanceof ApiError) setFailure({ status: error.status, body: error.body });
      else throw error;
    }
  }, []);

  useEffect(() => {
    void load();
    const timer = window.setInterval(() => void load(), refreshMs);
    return () => window.clearInterval(timer);
  }, [load, refreshMs]);

  if (failure) return <ErrorNotice status={failure.status} body={failure.body} />;
  if (!list) return <Typography variant="body2">Loading incidents…</Typography>;
  if (list.incidents.length === 0) {
    return (
      <Typography variant="body2" sx={{ opacity: 0.7 }}>
        No open incident.
        {list.targets.length === 0 ? ' Tickets are off: set GH_* or JIRA_* to file them.' : ''}
      </Typography>
    );
  }
  return (
    <Table size="small" aria-label="Open incidents">
      <TableHead>
        <TableRow>
          <TableCell>Alert</TableCell>
          <TableCell>Tickets</TableCell>
          <TableCell>State</TableCell>
          <TableCell>Last event</TableCell>
        </TableRow>
      </TableHead>
      <TableBody>
        {list.incidents.map((incident) => (
          <TableRow key={incident.id} data-incident={incident.id}>
            <TableCell>
              <Stack direction="row" sx={{ gap: 1, alignItems: 'center' }}>
                <Chip size="small" label={incident.severity} color={SEVERITY_COLORS[incident.severity] ?? 'default'} />
                <Typography variant="body2" component="span">
                  {incident.alertname}
                  {incident.model ? ` · ${incident.model}` : ''}
                </Typography>
              </Stack>
              <Typography variant="caption" sx={{ opacity: 0.7 }}>
                {incident.summary}
                {incident.runbook_url ? (
                  <>
                    {' '}
                    <Link href={incident.runbook_url} target="_blank" rel="noreferrer">
                      runbook
                    </Link>
                  </>
                ) : null}
              </Typography>
            </TableCell>
            <TableCell>
              <Stack sx={{ gap: 0.25 }}>
                {incident.github && (
                  <Link href={incident.github.url} target="_blank" rel="noreferrer">
                    GitHub #{incident.github.number}
                  </Link>
                )}
                {incident.jira && (
                  <Link href={incident.jira.url} target="_blank" rel="noreferrer">
                    Jira {incident.jira.key}
                  </Link>
                )}
                {!incident.github && !incident.jira && <span>{incident.work.pending ? 'filing…' : '—'}</span>}
              </Stack>
            </TableCell>
            <TableCell>
              <Stack direction="row" sx={{ gap: 0.5, flexWrap: 'wrap' }}>
                <Chip size="small" variant="outlined" label={incident.state} />
                {incident.silence_id && <Chip size="small" variant="outlined" label="muted" title={incident.silence_id} />}
                {incident.work.failed > 0 && (
                  <Chip size="small" color="error" label={`${incident.work.failed} failed`} title={incident.problem ?? ''} />
                )}
              </Stack>
            </TableCell>
            <TableCell>
              <Typography variant="body2">{incident.last_event}</Typography>
              <Typography variant="caption" sx={{ opacity: 0.7 }}>
                {since(incident.last_event_at)} · {incident.notifications} notification{incident.notifications === 1 ? '' : 's'}
              </Typography>
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}
