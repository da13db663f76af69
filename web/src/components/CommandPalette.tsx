import Dialog from '@mui/material/Dialog';
import DialogTitle from '@mui/material/DialogTitle';
import List from '@mui/material/List';
import ListItemButton from '@mui/material/ListItemButton';
import ListItemText from '@mui/material/ListItemText';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useMemo, useState, type KeyboardEvent } from 'react';

export interface Command {
  id: string;
  label: string;
  hint: string;
  disabled?: boolean;
  run: () => void;
}

/** Commands whose label or hint contains every word of `filter`. */
export function filterCommands(commands: Command[], filter: string): Command[] {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  return commands.filter((command) => {
    const haystack = `${command.label} ${command.hint}`.toLowerCase();
    return words.every((word) => haystack.includes(word));
  });
}

interface CommandPaletteProps {
  open: boolean;
  onClose: () => void;
  commands: Command[];
}

function PaletteBody({ onClose, commands }: Omit<CommandPaletteProps, 'open'>) {
  const [filter, setFilter] = useState('');
  const [selected, setSelected] = useState(0);
  const shown = useMemo(() => filterCommands(commands, filter), [commands, filter]);
  const current = Math.min(selected, Math.max(shown.length - 1, 0));

  const run = (command: Command | undefined): void => {
    if (!command || command.disabled) return;
    onClose();
    command.run();
  };

  const onKeyDown = (event: KeyboardEvent): void => {
    if (event.key === 'ArrowDown') {
      event.preventDefault();
      setSelected((current + 1) % Math.max(shown.length, 1));
    } else if (event.key === 'ArrowUp') {
      event.preventDefault();
      setSelected((current - 1 + shown.length) % Math.max(shown.length, 1));
    } else if (event.key === 'Enter') {
      event.preventDefault();
      run(shown[current]);
    }
  };

  return (
    <>
      <TextField
        autoFocus
        fullWidth
        size="small"
        placeholder="Type a command…"
        value={filter}
        onChange={(event) => {
          setFilter(event.target.value);
          setSelected(0);
        }}
        onKeyDown={onKeyDown}
        slotProps={{
          htmlInput: {
            'aria-label': 'Filter commands',
            role: 'combobox',
            'aria-expanded': true,
            'aria-controls': 'command-list',
            'aria-activedescendant': shown[current] ? `command-${shown[current].id}` : undefined,
          },
        }}
        sx={{ px: 2, pb: 1 }}
      />
      <List id="command-list" role="listbox" aria-label="Commands" dense sx={{ pt: 0 }}>
        {shown.length === 0 && (
          <Typography sx={{ px: 3, py: 1 }} variant="body2">
            No command matches.
          </Typography>
        )}
        {shown.map((command, index) => (
          <ListItemButton
            key={command.id}
            id={`command-${command.id}`}
            role="option"
            aria-selected={index === current}
            selected={index === current}
            disabled={command.disabled}
            onClick={() => run(command)}
            onMouseMove={() => setSelected(index)}
          >
            <ListItemText primary={command.label} secondary={command.hint} />
          </ListItemButton>
        ))}
      </List>
    </>
  );
}

/** Ctrl+K: every dashboard action, filterable, runnable from the keyboard. */
export function CommandPalette({ open, onClose, commands }: CommandPaletteProps) {
  return (
    <Dialog open={open} onClose={onClose} fullWidth maxWidth="sm" aria-labelledby="palette-title">
      <DialogTitle id="palette-title" sx={{ pb: 1 }}>
        Command palette
      </DialogTitle>
      {open && <PaletteBody onClose={onClose} commands={commands} />}
    </Dialog>
  );
}
