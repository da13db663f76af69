import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import type { Abilities } from '../roles';

/** For a key without the operator role: what it can do here, and what needs more. */
export function RoleNotice({ can }: { can: Abilities }) {
  return (
    <Alert severity="info" variant="outlined" role="note" aria-label="What this key can do">
      <AlertTitle>{can.route ? 'Signed in with a client key' : 'This key has no dashboard role'}</AlertTitle>
      {can.route
        ? 'You can plan routes and execute them with the runbook planner below. '
        : 'Ask an admin for a key with the role you need. '}
      The live model matrix, alerts, kill switch and audit trail need the operator role; the policy editor needs
      governor; API keys need admin.
    </Alert>
  );
}
