import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { parseTraceLine } from '../explain';
import { MONO_FONTS } from '../theme';
import type { ReplayResult } from '../types';
import type { Load } from '../load';
import { ErrorNotice } from './ErrorNotice';

/** Trace lines drawn at most (a full trace of a big policy runs to thousands). */
export const TRACE_LINE_LIMIT = 5000;

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

function Replayed({ replay, revision }: { replay: ReplayResult; revision: string | null }) {
  const under = replay.revision ?? revision;
  const replayed = under ? `replay under ${under}` : 'replay';
  return (
    <Stack sx={{ gap: 0.5 }}>
      <Box>
        <Chip
          size="small"
          data-testid="replay-equal"
          data-equal={String(replay.equal)}
          color={replay.equal ? 'success' : 'warning'}
          label={`${replayed} ${replay.equal ? 'equals' : 'differs from'} the recorded decision`}
        />
      </Box>
      {replay.differences.length > 0 && (
        <Box component="ul" aria-label="Differences" sx={{ m: 0, pl: 2.5 }}>
          {replay.differences.map((difference) => (
            <Typography component="li" variant="body2" key={difference}>
              {difference}
            </Typography>
          ))}
        </Box>
      )}
    </Stack>
  );
}

interface TraceSectionProps {
  /** The trace the opener had (a plan's notes); null when it had none. */
  trace: string[] | null;
  fullTrace: boolean;
  replay: Load<ReplayResult>;
  /** The recorded revision (the replay's answer may not name it). */
  revision: string | null;
  /** Replay the decision with the full trace; absent when the key may not. */
  onReplay?: () => void;
}

/** OPA's trace: the opener's notes, or the full trace of replaying the recorded decision. */
export function TraceSection({ trace, fullTrace, replay, revision, onReplay }: TraceSectionProps) {
  const replayed = replay.state === 'loaded' ? replay.value : null;
  const lines = replayed ? (replayed.explain.trace ?? []) : trace;
  const full = replayed !== null || fullTrace;
  return (
    <Box>
      <Stack direction="row" sx={{ alignItems: 'center', justifyContent: 'space-between', mb: 1, gap: 1 }}>
        <Typography variant="h3" component="h3">
          {full ? 'OPA full trace' : 'OPA trace'} {lines ? `(${lines.length} lines)` : ''}
        </Typography>
        {onReplay && (
          <Button size="small" variant="outlined" onClick={onReplay} disabled={replay.state === 'loading' || full}>
            {replay.state === 'loading' ? 'Tracing…' : full ? 'Full trace shown' : 'Full trace'}
          </Button>
        )}
      </Stack>
      {replayed && <Replayed replay={replayed} revision={revision} />}
      {replay.state === 'failed' && (
        <ErrorNotice status={replay.status} body={replay.body} consequence="The decision was not replayed." />
      )}
      {lines === null ? (
        <Typography variant="body2">
          {onReplay
            ? 'Live events carry no trace; Full trace re-evaluates the recorded input under the recorded revision.'
            : 'Live events carry no trace.'}
        </Typography>
      ) : lines.length === 0 ? (
        <Typography variant="body2">No trace lines (explain was off).</Typography>
      ) : (
        <Box sx={{ mt: replayed ? 1 : 0 }}>
          <Trace lines={lines} />
        </Box>
      )}
    </Box>
  );
}
