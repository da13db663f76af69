import { createTheme } from '@mui/material/styles';

// System fonts only: the CSP serves nothing from elsewhere, and nothing is bundled.
const SYSTEM_FONTS = [
  'system-ui',
  '-apple-system',
  '"Segoe UI"',
  'Roboto',
  '"Helvetica Neue"',
  'Arial',
  'sans-serif',
].join(',');

export const MONO_FONTS = ['ui-monospace', '"SFMono-Regular"', '"DejaVu Sans Mono"', 'Menlo', 'Consolas', 'monospace'].join(',');

/** Dark, 16 px radius, dense: a page operators keep open all day. */
export const theme = createTheme({
  palette: {
    mode: 'dark',
    background: { default: '#0d1117', paper: '#161b22' },
    primary: { main: '#7aa2f7' },
    secondary: { main: '#bb9af7' },
  },
  shape: { borderRadius: 16 },
  typography: {
    fontFamily: SYSTEM_FONTS,
    fontSize: 13,
    h1: { fontSize: '1.35rem', fontWeight: 650 },
    h2: { fontSize: '1rem', fontWeight: 650, letterSpacing: 0.2 },
    h3: { fontSize: '0.9rem', fontWeight: 650 },
  },
  components: {
    MuiPaper: { styleOverrides: { root: { borderRadius: 16, backgroundImage: 'none' } } },
    MuiButton: { styleOverrides: { root: { textTransform: 'none', borderRadius: 9999 } } },
    MuiChip: { styleOverrides: { root: { fontWeight: 600 } } },
  },
});
