import LogoutIcon from '@mui/icons-material/Logout';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import type { Session } from '../types';

interface AccountBarProps {
  session: Session;
  onSignOut: () => Promise<void>;
}

/** Who is signed in (the key's name, team and roles) and the way out. */
export function AccountBar({ session, onSignOut }: AccountBarProps) {
  const [leaving, setLeaving] = useState(false);
  return (
    <Stack direction="row" sx={{ alignItems: 'center', gap: 1.5 }}>
      <Box sx={{ textAlign: 'right' }}>
        <Typography variant="body2" sx={{ fontWeight: 650 }}>
          <Box component="span" sx={{ opacity: 0.7, fontWeight: 400 }}>
            signed in as{' '}
          </Box>
          <span data-testid="signed-in-as">{session.name}</span>
          {session.team && (
            <Box component="span" sx={{ opacity: 0.7, fontWeight: 400 }} data-testid="signed-in-team">
              {' '}
              · team {session.team}
            </Box>
          )}
        </Typography>
        <Stack component="ul" direction="row" aria-label="Roles" sx={{ gap: 0.5, m: 0, p: 0, listStyle: 'none', justifyContent: 'flex-end' }}>
          {session.roles.map((role) => (
            <li key={role}>
              <Chip size="small" variant="outlined" label={role} />
            </li>
          ))}
        </Stack>
      </Box>
      <Button
        variant="outlined"
        size="small"
        startIcon={<LogoutIcon />}
        disabled={leaving}
        onClick={() => {
          setLeaving(true);
          // The dashboard unmounts once signed out; on failure the session hook still leaves.
          void onSignOut();
        }}
      >
        Sign out
      </Button>
    </Stack>
  );
}
