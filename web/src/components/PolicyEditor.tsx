import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { useCallback, useEffect, useState, type ChangeEvent, type RefObject } from 'react';
import { ApiError, PolicyConflict, fetchPolicy, fetchPolicyHistory, savePolicy, validatePolicy } from '../api';
import { MONO_FONTS } from '../theme';
import type { ApiErrorBody, PolicyMeta, PolicyResponse, PolicyRevisionRef } from '../types';
import { ErrorNotice } from './ErrorNotice';

type Outcome =
  | { kind: 'parse_error'; message: string }
  | { kind: 'valid' }
  | { kind: 'saved'; version: number; inStep: boolean | null }
  | { kind: 'conflict'; current: PolicyRevisionRef; loaded: number }
  | { kind: 'kept'; current: PolicyRevisionRef }
  | { kind: 'failed'; status: number; body: ApiErrorBody; action: 'validate' | 'save' | 'load' };

interface ConflictActions {
  onReload: () => void;
  onKeep: (current: PolicyRevisionRef) => void;
}

/** Enough of a sha256 to tell revisions apart at a glance. */
function shortHash(hash: string | null | undefined): string {
  return hash ? hash.slice(0, 8) : '';
}

function authorship(meta: { updated_by?: string | null; updated_at?: string | null }): string {
  return `by ${meta.updated_by ?? 'unknown'}${meta.updated_at ? ` at ${meta.updated_at}` : ''}`;
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

function failed(action: 'validate' | 'save' | 'load', exc: unknown): Outcome {
  if (exc instanceof ApiError) return { kind: 'failed', status: exc.status, body: exc.body, action };
  return { kind: 'failed', status: 0, body: { error: 'client_error', message: String(exc) }, action };
}

function HistoryList({ versions, active }: { versions: PolicyMeta[]; active: number | null }) {
  return (
    <Box component="ol" aria-label="Policy version history" sx={{ listStyle: 'none', m: 0, p: 0, maxHeight: 160, overflow: 'auto' }}>
      {versions.map((meta) => (
        <Box
          component="li"
          key={meta.version}
          data-version={meta.version}
          sx={{ py: 0.25, display: 'flex', gap: 1, alignItems: 'baseline', flexWrap: 'wrap' }}
        >
          <Chip
            size="small"
            label={`v${meta.version}`}
            color={meta.version === active ? 'primary' : 'default'}
            variant={meta.version === active ? 'filled' : 'outlined'}
          />
          <Typography variant="body2" component="span">
            {meta.label ?? ''} by {meta.updated_by ?? 'unknown'}
          </Typography>
          <Typography variant="caption" component="span" sx={{ opacity: 0.7 }}>
            {meta.updated_at ?? ''}
          </Typography>
          {meta.hash && (
            <Typography variant="caption" component="code" sx={{ opacity: 0.7, fontFamily: MONO_FONTS }}>
              {shortHash(meta.hash)}
            </Typography>
          )}
        </Box>
      ))}
    </Box>
  );
}

function OutcomeNotice({ outcome, active, actions }: { outcome: Outcome; active: number | null; actions: ConflictActions }) {
  switch (outcome.kind) {
    case 'parse_error':
      return (
        <Alert severity="error" variant="outlined" role="alert" data-error="json_parse">
          The JSON does not parse: {outcome.message}. Nothing was sent.
        </Alert>
      );
    case 'valid':
      return (
        <Alert severity="success" variant="outlined" role="status">
          Valid: the document passes the policy schema.
        </Alert>
      );
    case 'saved':
      return (
        <Alert severity="success" variant="outlined" role="status">
          Saved as version {outcome.version}
          {outcome.inStep === true && "; this proxy's OPA sidecar runs it."}
          {outcome.inStep === false &&
            "; this proxy's OPA sidecar has not activated it yet, and decisions under the older version are refused."}
          {outcome.inStep === null && '.'}
        </Alert>
      );
    case 'conflict':
      return (
        <Alert
          severity="warning"
          variant="outlined"
          role="alert"
          data-error="precondition_failed"
          action={
            <Stack direction="row" sx={{ gap: 1 }}>
              <Button size="small" color="inherit" variant="outlined" onClick={actions.onReload}>
                Reload latest
              </Button>
              <Button size="small" color="inherit" onClick={() => actions.onKeep(outcome.current)}>
                Keep my edits
              </Button>
            </Stack>
          }
        >
          <AlertTitle>The policy changed while you were editing</AlertTitle>
          Revision {outcome.current.version} {authorship(outcome.current)} was saved since the editor loaded
          revision {outcome.loaded}. Nothing was saved. Reload latest discards your edit; Keep my edits saves
          over revision {outcome.current.version} on the next Save.
        </Alert>
      );
    case 'kept':
      return (
        <Alert severity="info" variant="outlined" role="status">
          Your edits are kept. Save now replaces revision {outcome.current.version} {authorship(outcome.current)}.
        </Alert>
      );
    case 'failed':
      return (
        <ErrorNotice
          status={outcome.status}
          body={outcome.body}
          consequence={
            outcome.action === 'save' && active !== null
              ? `Nothing was saved: version ${active} is still active.`
              : undefined
          }
        />
      );
  }
}

interface PolicyEditorProps {
  editorRef: RefObject<HTMLTextAreaElement>;
  /** The version the live feed last announced; a newer one reloads the history. */
  announcedVersion: number | null;
}

/** The active policy: read, edit, validate and save it; its version history. */
export function PolicyEditor({ editorRef, announcedVersion }: PolicyEditorProps) {
  const [active, setActive] = useState<PolicyResponse | null>(null);
  // Set by "Keep my edits": the newer revision the next save knowingly replaces.
  const [adopted, setAdopted] = useState<PolicyRevisionRef | null>(null);
  const [history, setHistory] = useState<PolicyMeta[]>([]);
  const [text, setText] = useState('');
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);

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

  const revert = (): void => {
    setOutcome(null);
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
