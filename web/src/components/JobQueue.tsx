import Box from '@mui/material/Box';
import Chip from '@mui/material/Chip';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, call } from '../http';
import type { ApiErrorBody } from '../types';
import { ErrorNotice } from './ErrorNotice';

/** The states of a deferred job, in the order a job moves through them. */
export const JOB_STATES = ['queued', 'running', 'done', 'failed', 'expired', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface JobReason {
  model: string | null;
  reason: string;
  detail: string;
}

/** One row of GET /jobs. */
export interface JobSummary {
  job_id: string;
  state: JobState;
  owner: string;
  created_at: string;
  deadline: string;
  planned_start: string;
  planned_model: string | null;
  reasons: JobReason[];
  audit_id: string | null;
}

/** Per model: how many queued jobs wait for it and the soonest planned start. */
export type Waiting = Record<string, { queued: number; next_planned_start: string | null }>;

/** GET /status/queue.json: every job, counts by state, the work waiting per model. */
export interface JobPage {
  jobs: JobSummary[];
  next_before: string | null;
  counts?: Partial<Record<JobState, number>>;
  waiting?: Waiting;
}

/** GET /status/queue.json (operators) with the given query string. */
export function fetchJobs(query = ''): Promise<JobPage> {
  return call<JobPage>('GET', `/status/queue.json${query ? `?${query}` : ''}`);
}

const STATE_COLORS: Record<JobState, 'default' | 'info' | 'success' | 'error' | 'warning'> = {
  queued: 'info',
  running: 'info',
  done: 'success',
  failed: 'error',
  expired: 'warning',
  cancelled: 'default',
};

/** The models with queued work, soonest planned start first. */
export function nextStarts(waiting: Waiting): [string, { queued: number; next_planned_start: string | null }][] {
  return Object.entries(waiting).sort(([, a], [, b]) =>
    (a.next_planned_start ?? '9999').localeCompare(b.next_planned_start ?? '9999'),
  );
}

function time(iso: string | null): string {
  if (!iso) return '—';
  const at = new Date(iso);
  return at.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

interface JobQueueProps {
  /** How often the queue is read again (the store is the truth; no push needed). */
  refreshMs?: number;
  /** Told the queued work per model on every read (the model matrix shows it). */
  onWaiting?: (waiting: Waiting) => void;
}

/** The deferred-job queue: jobs by state, the next planned start per model, and the jobs that
 * expired, with the reasons the policy last gave. */
export function JobQueue({ refreshMs = 10_000, onWaiting }: JobQueueProps) {
  const [page, setPage] = useState<JobPage | null>(null);
  const [expired, setExpired] = useState<JobSummary[]>([]);
  const [failure, setFailure] = useState<{ status: number; body: ApiErrorBody } | null>(null);
  const report = useRef(onWaiting);
  report.current = onWaiting;

  const load = useCallback(async (): Promise<void> => {
    try {
      const [all, ended] = await Promise.all([fetchJobs('limit=1'), fetchJobs('state=expired&limit=20')]);
      setPage(all);
      setExpired(ended.jobs);
      setFailure(null);
      report.current?.(all.waiting ?? {});
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
  if (!page) return <Typography variant="body2">Loading the job queue…</Typography>;
  const counts = page.counts ?? {};
  const starts = nextStarts(page.waiting ?? {});
  return (
    <Stack sx={{ gap: 1.5 }}>
      <Stack direction="row" aria-label="Jobs by state" sx={{ gap: 1, flexWrap: 'wrap' }}>
        {JOB_STATES.map((state) => (
          <Chip
            key={state}
            size="small"
            color={STATE_COLORS[state]}
            variant={counts[state] ? 'filled' : 'outlined'}
            label={`${state} ${counts[state] ?? 0}`}
            data-state={state}
          />
        ))}
      </Stack>
      <Box>
        <Typography variant="subtitle2">Next planned starts</Typography>
        {starts.length === 0 ? (
          <Typography variant="body2" sx={{ opacity: 0.7 }}>
            No job is waiting.
          </Typography>
        ) : (
          <Table size="small" aria-label="Next planned starts">
            <TableHead>
              <TableRow>
                <TableCell>Model</TableCell>
                <TableCell align="right">Queued</TableCell>
                <TableCell>Next start</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {starts.map(([model, entry]) => (
                <TableRow key={model} data-model={model}>
                  <TableCell>{model}</TableCell>
                  <TableCell align="right">{entry.queued}</TableCell>
                  <TableCell>
                    <time dateTime={entry.next_planned_start ?? ''}>{time(entry.next_planned_start)}</time>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </Box>
      <Box>
        <Typography variant="subtitle2">Expired</Typography>
        {expired.length === 0 ? (
          <Typography variant="body2" sx={{ opacity: 0.7 }}>
            No job has expired.
          </Typography>
        ) : (
          <Stack component="ul" aria-label="Expired jobs" sx={{ m: 0, pl: 2, gap: 0.5 }}>
            {expired.map((job) => (
              <li key={job.job_id} data-job={job.job_id}>
                <Typography variant="body2" component="span" sx={{ fontFamily: 'monospace' }}>
                  {job.job_id}
                </Typography>{' '}
                <Typography variant="caption" component="span">
                  {job.planned_model ?? '—'} · deadline {time(job.deadline)} ·{' '}
                  {job.reasons.length
                    ? job.reasons.map((r) => `${r.reason}: ${r.detail}`).join('; ')
                    : 'no decision before the deadline'}
                </Typography>
              </li>
            ))}
          </Stack>
        )}
      </Box>
    </Stack>
  );
}
