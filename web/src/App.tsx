import Box from '@mui/material/Box';
import CircularProgress from '@mui/material/CircularProgress';
import { Dashboard } from './Dashboard';
import { LoginScreen } from './components/LoginScreen';
import { useSession } from './useSession';

/**
 * The session gate: nothing of the dashboard is rendered or fetched until GET /session (or a
 * sign-in) names a key, and it all goes (socket included) when the session ends.
 */
export function App() {
  const { state, signIn, signOut, refresh } = useSession();
  switch (state.status) {
    case 'checking':
      return (
        <Box role="status" aria-label="Checking the session" sx={{ minHeight: '100vh', display: 'grid', placeItems: 'center' }}>
          <CircularProgress />
        </Box>
      );
    case 'signed-out':
      return <LoginScreen notice={state.notice} onSignIn={signIn} />;
    case 'signed-in':
      return <Dashboard session={state.session} onSignOut={signOut} verifySession={refresh} />;
  }
}
