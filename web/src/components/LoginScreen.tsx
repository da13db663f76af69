import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Paper from '@mui/material/Paper';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState } from 'react';

interface LoginScreenProps {
  /** Why the dashboard is here rather than signed in (a session that ended), if it did not come by choice. */
  notice: string | null;
  /** Rejects with the server's error (401 wrong key, 429 too many tries), whose message is shown. */
  onSignIn: (key: string) => Promise<void>;
}

/** The only thing shown before a session exists: an API key field and a button. */
export function LoginScreen({ notice, onSignIn }: LoginScreenProps) {
  const [key, setKey] = useState('');
  const [pending, setPending] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);

  const submit = async (): Promise<void> => {
    setPending(true);
    setFailure(null);
    try {
      await onSignIn(key.trim());
    } catch (exc) {
      setFailure(exc instanceof Error ? exc.message : String(exc));
      setPending(false);
    }
  };

  return (
    <Box sx={{ minHeight: '100vh', display: 'grid', placeItems: 'center', p: 2 }}>
      <Paper component="main" variant="outlined" sx={{ p: 3, width: '100%', maxWidth: 420 }}>
        <Typography variant="h1" gutterBottom>
          Symphony
        </Typography>
        <Typography variant="body2" sx={{ opacity: 0.8, mb: 2 }}>
          Sign in with your API key. The dashboard shows what the key&apos;s roles allow.
        </Typography>
        {notice && (
          <Alert severity="info" variant="outlined" role="status" sx={{ mb: 2 }}>
            {notice}
          </Alert>
        )}
        <Box
          component="form"
          aria-label="Sign in"
          onSubmit={(event) => {
            event.preventDefault();
            if (key.trim() && !pending) void submit();
          }}
          sx={{ display: 'flex', flexDirection: 'column', gap: 2 }}
        >
          <TextField
            autoFocus
            type="password"
            label="API key"
            autoComplete="current-password"
            // Required on the input, without the label's asterisk: its accessible name stays "API key".
            slotProps={{ htmlInput: { required: true } }}
            value={key}
            onChange={(event) => setKey(event.target.value)}
            disabled={pending}
          />
          {failure && (
            <Alert severity="error" variant="outlined" role="alert">
              {failure}
            </Alert>
          )}
          <Button type="submit" variant="contained" disabled={pending || !key.trim()}>
            {pending ? 'Signing in…' : 'Sign in'}
          </Button>
        </Box>
      </Paper>
    </Box>
  );
}
