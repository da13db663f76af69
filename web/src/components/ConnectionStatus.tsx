import Box from '@mui/material/Box';
import type { Connection } from '../useEventSocket';

const LABELS: Record<Connection['state'], string> = {
  connecting: 'Connecting…',
  open: 'Live',
  reconnecting: 'Disconnected — retrying…',
};

const COLOURS: Record<Connection['state'], string> = {
  connecting: 'warning.main',
  open: 'success.main',
  reconnecting: 'error.main',
};

/** The websocket's state, announced politely to screen readers. */
export function ConnectionStatus({ connection }: { connection: Connection }) {
  const { state, attempt, retryInMs } = connection;
  const detail =
    state === 'reconnecting' && retryInMs !== null
      ? `attempt ${attempt}, next in ${(retryInMs / 1000).toFixed(1)} s`
      : undefined;
  return (
    <Box
      role="status"
      aria-live="polite"
      data-connection={state}
      title={detail}
      sx={{
        display: 'inline-flex',
        alignItems: 'center',
        gap: 1,
        px: 1.5,
        py: 0.5,
        borderRadius: 9999,
        border: 1,
        borderColor: COLOURS[state],
        color: COLOURS[state],
        fontWeight: 600,
        fontSize: '0.8rem',
        whiteSpace: 'nowrap',
      }}
    >
      <Box
        component="span"
        aria-hidden
        sx={{ width: 8, height: 8, borderRadius: '50%', bgcolor: COLOURS[state] }}
        className={state === 'open' ? 'pulse' : undefined}
      />
      {LABELS[state]}
      {detail && (
        <Box component="span" sx={{ fontWeight: 400, opacity: 0.8 }}>
          ({detail})
        </Box>
      )}
    </Box>
  );
}
