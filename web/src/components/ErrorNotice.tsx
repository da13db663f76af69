import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import Box from '@mui/material/Box';
import type { ApiErrorBody } from '../types';

interface ErrorNoticeProps {
  status: number;
  body: ApiErrorBody;
  /** What the reader should know happened (or did not) because of it. */
  consequence?: string;
}

/** A server error as the contract spells it: code, sentence, and each field with its message. */
export function ErrorNotice({ status, body, consequence }: ErrorNoticeProps) {
  const errors = body.errors ?? [];
  return (
    <Alert severity="error" variant="outlined" role="alert" data-error={body.error}>
      <AlertTitle>
        {status > 0 ? `${status} ` : ''}
        <code>{body.error}</code>
      </AlertTitle>
      {body.message && <Box component="p" sx={{ m: 0 }}>{body.message}</Box>}
      {body.required_role && (
        <Box component="p" sx={{ m: 0 }} data-required-role={body.required_role}>
          This needs the <code>{body.required_role}</code> role, which the signed-in key lacks.
        </Box>
      )}
      {errors.length > 0 && (
        <Box component="ul" aria-label="Field errors" sx={{ my: 0.5, pl: 2.5 }}>
          {errors.map((error) => (
            <li key={`${error.field}:${error.message}`} data-field={error.field}>
              <code>{error.field}</code> — {error.message}
            </li>
          ))}
        </Box>
      )}
      {consequence && <Box component="p" sx={{ m: 0, fontWeight: 600 }}>{consequence}</Box>}
    </Alert>
  );
}
