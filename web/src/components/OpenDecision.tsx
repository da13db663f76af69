import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import TextField from '@mui/material/TextField';
import { useState } from 'react';

/** A decision id typed (or pasted from a log line or a support ticket) opens it in the drawer. */
export function OpenDecision({ onOpen }: { onOpen: (decisionId: string) => void }) {
  const [id, setId] = useState('');
  const trimmed = id.trim();
  return (
    <Box
      component="form"
      role="search"
      aria-label="Open a decision by id"
      onSubmit={(event) => {
        event.preventDefault();
        if (trimmed) onOpen(trimmed);
      }}
      sx={{ display: 'flex', gap: 1, alignItems: 'center' }}
    >
      <TextField
        size="small"
        label="Open decision"
        placeholder="decision id"
        value={id}
        onChange={(event) => setId(event.target.value)}
        slotProps={{ htmlInput: { spellCheck: false } }}
        sx={{ width: 220 }}
      />
      <Button type="submit" size="small" variant="outlined" disabled={!trimmed}>
        Open
      </Button>
    </Box>
  );
}
