import CssBaseline from '@mui/material/CssBaseline';
import GlobalStyles from '@mui/material/GlobalStyles';
import { ThemeProvider } from '@mui/material/styles';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { theme } from './theme';

// Attention effects done with CSS (the seed's jQuery fades), and honouring reduced motion.
const motion = {
  '@keyframes pulse': { '0%, 100%': { opacity: 1 }, '50%': { opacity: 0.35 } },
  '@keyframes blink': { '50%': { opacity: 0 } },
  '.pulse': { animation: 'pulse 2s ease-in-out infinite' },
  '.caret': { animation: 'blink 1s step-end infinite' },
  '[data-alert]': { animation: 'pulse 2.4s ease-in-out 2' },
  '@media (prefers-reduced-motion: reduce)': { '*': { animation: 'none !important' } },
};

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');

createRoot(root).render(
  <StrictMode>
    <ThemeProvider theme={theme}>
      <CssBaseline />
      <GlobalStyles styles={motion} />
      <App />
    </ThemeProvider>
  </StrictMode>,
);
