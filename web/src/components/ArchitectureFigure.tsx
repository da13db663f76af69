import Box from '@mui/material/Box';
import Typography from '@mui/material/Typography';
import { useEffect, useRef, useState } from 'react';
import { MONO_FONTS } from '../theme';

export const ARCHITECTURE = `flowchart TB
  client["Clients and agents"] -->|"/route/* · /v1/chat/completions"| proxy["Symphony proxy (Flask)"]
  proxy -->|"input → decision + explain"| opa[("OPA sidecar · Rego policy")]
  proxy -->|"hosted models"| gateway["LLM gateway"]
  proxy -->|"local models"| local["Local model (llama.cpp)"]
  prometheus["Prometheus"] -->|"scrapes /metrics"| proxy
  dashboard["Operator dashboard"] <-->|"HTTP + WS /events"| proxy
`;

/** The request path and its observers, drawn by Mermaid (loaded on demand, strict mode). */
export function ArchitectureFigure() {
  const target = useRef<HTMLDivElement>(null);
  const [failure, setFailure] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    void (async () => {
      try {
        const { default: mermaid } = await import('mermaid');
        mermaid.initialize({
          startOnLoad: false,
          securityLevel: 'strict',
          theme: 'dark',
          fontFamily: 'system-ui, sans-serif',
          flowchart: { htmlLabels: false },
        });
        const { svg } = await mermaid.render('architecture-diagram', ARCHITECTURE);
        // Mermaid's strict mode has sanitised the SVG (DOMPurify) before it reaches us.
        if (!cancelled && target.current) target.current.innerHTML = svg;
      } catch (exc) {
        if (!cancelled) setFailure(exc instanceof Error ? exc.message : String(exc));
      }
    })();
    return () => {
      cancelled = true;
    };
  }, []);

  return (
    <Box component="figure" sx={{ m: 0 }} aria-labelledby="architecture-caption">
      <Box
        ref={target}
        role="img"
        aria-label="Architecture: clients call the Symphony proxy, which asks OPA, then routes to the LLM gateway or a local model; Prometheus scrapes the proxy; the dashboard talks to it over HTTP and a websocket."
        data-rendered={failure ? 'failed' : undefined}
        sx={{ '& svg': { maxWidth: '100%', height: 'auto' }, minHeight: 120 }}
      />
      {failure && (
        <Box component="pre" sx={{ fontFamily: MONO_FONTS, fontSize: '0.75rem', whiteSpace: 'pre-wrap' }}>
          {`Diagram not drawn (${failure}):\n${ARCHITECTURE}`}
        </Box>
      )}
      <Typography component="figcaption" id="architecture-caption" variant="caption" sx={{ display: 'block', mt: 1, opacity: 0.8 }}>
        Figure: every request passes the proxy, which asks OPA for a decision before it calls a model
        through the gateway or locally; Prometheus scrapes the proxy and this dashboard watches it live.
      </Typography>
    </Box>
  );
}
