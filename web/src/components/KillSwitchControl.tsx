import Box from '@mui/material/Box';
import FormControlLabel from '@mui/material/FormControlLabel';
import Switch from '@mui/material/Switch';
import Tooltip from '@mui/material/Tooltip';
import type { KillSwitchState } from '../types';

interface KillSwitchControlProps {
  state: KillSwitchState | null;
  pending: boolean;
  error: string | null;
  onToggle: () => void;
}

/** Who set the switch, when, and why, as far as the server has said. */
export function provenance(state: KillSwitchState | null): string {
  if (!state?.updated_by) return '';
  const when = state.updated_at ? ` at ${state.updated_at}` : '';
  const why = state.reason ? `: ${state.reason}` : '';
  return `${state.kill_switch ? 'on' : 'off'}, set by ${state.updated_by}${when}${why}`;
}

/** The kill switch as the server reports it; toggling asks for a confirmation (onToggle), never flips it here. */
export function KillSwitchControl({ state, pending, error, onToggle }: KillSwitchControlProps) {
  const on = state?.kill_switch ?? false;
  return (
    <Tooltip title={error ?? (provenance(state) || 'Blocks high-autonomy and high-risk routing when on')}>
      <Box
        data-kill-switch={state === null ? 'unknown' : String(on)}
        sx={{
          display: 'inline-flex',
          alignItems: 'center',
          px: 1.5,
          borderRadius: 9999,
          border: 1,
          borderColor: error ? 'error.main' : on ? 'error.main' : 'divider',
          bgcolor: on ? 'rgba(244, 67, 54, 0.15)' : 'transparent',
        }}
      >
        <FormControlLabel
          control={
            <Switch
              color="error"
              checked={on}
              disabled={state === null || pending}
              onChange={onToggle}
              slotProps={{ input: { 'aria-label': 'Kill switch' } }}
            />
          }
          label={state === null ? 'Kill switch …' : on ? 'Kill switch ON' : 'Kill switch off'}
          sx={{ m: 0, fontWeight: 600, whiteSpace: 'nowrap' }}
        />
        {error && (
          <Box component="span" role="alert" sx={{ color: 'error.main', ml: 1, fontSize: '0.8rem' }}>
            {error}
          </Box>
        )}
      </Box>
    </Tooltip>
  );
}
