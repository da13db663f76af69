import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { useCallback, useEffect, useState, type ChangeEvent, type RefObject } from 'react';
import { ApiError, PolicyConflict, fetchPolicy, fetchPolicyHistory, savePolicy, simulatePolicy, validatePolicy } from '../api';
import { MONO_FONTS } from '../theme';
import type { PolicyMeta, PolicyResponse, PolicyRevisionRef, SimulationResult } from '../types';
import { ImpactPreview } from './ImpactPreview';
import { HistoryList, OutcomeNotice, shortHash, type Action, type Outcome } from './PolicyNotices';

/** The last impact preview: running (no result yet) or done, for the document it simulated. */
interface Impact {
  result: SimulationResult | null;
  /** The simulated document, as canonical JSON. */
  document: string;
}

function borderColor(outcome: Outcome | null): string {
  if (outcome?.kind === 'parse_error' || outcome?.kind === 'failed') return 'error.main';
  if (outcome?.kind === 'conflict') return 'warning.main';
  return 'divider';
}

function pretty(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** The JSON in the editor, or why it does not parse. */
export function parseDocument(text: string): { document: unknown } | { error: string } {
  try {
    return { document: JSON.parse(text) as unknown };
  } catch (exc) {
    return { error: exc instanceof Error ? exc.message : String(exc) };
  }
}

/** The editor's text as canonical JSON (null when it does not parse): what a preview is of. */
function canonical(text: string): string | null {
  const parsed = parseDocument(text);
  return 'error' in parsed ? null : JSON.stringify(parsed.document);
}

function failed(action: Action, exc: unknown): Outcome {
  if (exc instanceof ApiError) return { kind: 'failed', status: exc.status, body: exc.body, action };
  return { kind: 'failed', status: 0, body: { error: 'client_error', message: String(exc) }, action };
}

interface PolicyEditorProps {
  editorRef: RefObject<HTMLTextAreaElement>;
  /** The version the live feed last announced; a newer one reloads the history. */
  announcedVersion: number | null;
  /** Open one of the preview's example decisions in the Explain drawer. */
  onOpenDecision?: (decisionId: string) => void;
}

/** The active policy: read, edit, validate and save it; its version history. */
export function PolicyEditor({ editorRef, announcedVersion, onOpenDecision }: PolicyEditorProps) {
  const [active, setActive] = useState<PolicyResponse | null>(null);
  // Set by "Keep my edits": the newer revision the next save knowingly replaces.
  const [adopted, setAdopted] = useState<PolicyRevisionRef | null>(null);
  const [history, setHistory] = useState<PolicyMeta[]>([]);
  const [text, setText] = useState('');
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);
  const [impact, setImpact] = useState<Impact | null>(null);

  const load = useCallback(async (): Promise<void> => {
    try {
      const [policy, versions] = await Promise.all([fetchPolicy(), fetchPolicyHistory()]);
      setActive(policy);
      setAdopted(null);
      setText(pretty(policy.document));
      setHistory(versions.versions);
    } catch (exc) {
      setOutcome(failed('load', exc));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    if (announcedVersion === null) return;
    void fetchPolicyHistory()
      .then((versions) => setHistory(versions.versions))
      .catch(() => undefined);
  }, [announcedVersion]);

  const dirty = active !== null && text !== pretty(active.document);

  const run = async (action: 'validate' | 'save'): Promise<void> => {
    const parsed = parseDocument(text);
    if ('error' in parsed) {
      setOutcome({ kind: 'parse_error', message: parsed.error });
      return;
    }
    setBusy(true);
    try {
      if (action === 'validate') {
        const result = await validatePolicy(parsed.document);
        setOutcome(
          result.valid
            ? { kind: 'valid' }
            : {
                kind: 'failed',
                action,
                status: 200,
                body: { error: 'policy_invalid', message: `${result.errors.length} error(s) in the policy`, errors: result.errors },
              },
        );
      } else {
        const saved = await savePolicy(parsed.document, adopted?.etag ?? active?.etag ?? null);
        setActive(saved);
        setAdopted(null);
        setText(pretty(saved.document));
        setOutcome({ kind: 'saved', version: saved.version, inStep: saved.sidecar?.in_step ?? null });
        setHistory((await fetchPolicyHistory()).versions);
      }
    } catch (exc) {
      setOutcome(
        exc instanceof PolicyConflict
          ? { kind: 'conflict', current: exc.current, loaded: adopted?.version ?? active?.version ?? 0 }
          : failed(action, exc),
      );
    } finally {
      setBusy(false);
    }
  };

  const previewImpact = async (): Promise<void> => {
    const parsed = parseDocument(text);
    if ('error' in parsed) {
      setOutcome({ kind: 'parse_error', message: parsed.error });
      return;
    }
    const document = JSON.stringify(parsed.document);
    setImpact({ result: null, document });
    setOutcome(null);
    try {
      const result = await simulatePolicy({ document: parsed.document });
      setImpact({ result, document });
    } catch (exc) {
      setImpact(null);
      setOutcome(failed('preview', exc));
    }
  };

  const revert = (): void => {
    setOutcome(null);
    setImpact(null);
    void load();
  };

  const keep = (current: PolicyRevisionRef): void => {
    setAdopted(current);
    setOutcome({ kind: 'kept', current });
  };

  return (
    <Stack sx={{ gap: 1.5 }}>
      <Stack direction="row" sx={{ alignItems: 'center', gap: 1, flexWrap: 'wrap' }}>
        <Typography variant="body2" data-active-version={active?.version ?? ''}>
          {active ? (
            <>
              Active: <b>v{active.version}</b> {active.label ? `(${active.label})` : ''} by {active.updated_by ?? 'unknown'}{' '}
              <Box
                component="code"
                title={`sha256 ${active.hash}${active.etag ? `, ETag ${active.etag}` : ''}`}
                data-hash={active.hash}
                sx={{ fontFamily: MONO_FONTS, opacity: 0.7 }}
              >
                {shortHash(active.hash)}
              </Box>
            </>
          ) : (
            'Loading the policy…'
          )}
        </Typography>
        {dirty && <Chip size="small" color="warning" label="unsaved changes" />}
        {adopted && <Chip size="small" color="warning" variant="outlined" label={`saving replaces v${adopted.version}`} />}
        <Box sx={{ flex: 1 }} />
        <Button size="small" variant="outlined" onClick={() => void run('validate')} disabled={busy || !active}>
          Validate
        </Button>
        <Button
          size="small"
          variant="outlined"
          onClick={() => void previewImpact()}
          disabled={busy || !active || (impact !== null && impact.result === null)}
        >
          Preview impact
        </Button>
        <Button size="small" variant="contained" onClick={() => void run('save')} disabled={busy || !active || !dirty}>
          Save
        </Button>
        <Button size="small" onClick={revert} disabled={busy}>
          Revert
        </Button>
      </Stack>
      {outcome && (
        <OutcomeNotice outcome={outcome} active={active?.version ?? null} actions={{ onReload: revert, onKeep: keep }} />
      )}
      {impact && (
        <ImpactPreview result={impact.result} stale={impact.document !== canonical(text)} onOpenDecision={onOpenDecision} />
      )}
      <Box
        component="textarea"
        ref={editorRef}
        aria-label="Policy document (JSON)"
        spellCheck={false}
        value={text}
        onChange={(event: ChangeEvent<HTMLTextAreaElement>) => setText(event.target.value)}
        rows={18}
        sx={{
          width: '100%',
          resize: 'vertical',
          fontFamily: MONO_FONTS,
          fontSize: '0.78rem',
          lineHeight: 1.45,
          color: 'text.primary',
          bgcolor: 'background.default',
          border: 1,
          borderColor: borderColor(outcome),
          borderRadius: 2,
          p: 1.5,
          outline: 'none',
          '&:focus-visible': { borderColor: 'primary.main', boxShadow: 2 },
        }}
      />
      <Box>
        <Typography variant="h3" component="h3" gutterBottom>
          History
        </Typography>
        <HistoryList versions={history} active={active?.version ?? null} />
      </Box>
    </Stack>
  );
}
