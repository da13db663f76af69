import ErrorOutlineIcon from '@mui/icons-material/ErrorOutlineOutlined';
import WarningAmberIcon from '@mui/icons-material/WarningAmber';
import Box from '@mui/material/Box';
import ButtonBase from '@mui/material/ButtonBase';
import Chip from '@mui/material/Chip';
import Typography from '@mui/material/Typography';
import { ms, usd } from '../format';
import type { DecisionItem, FeedItem } from '../liveState';
import { MONO_FONTS } from '../theme';
import type { AlertMessage, ExecutionMessage } from '../types';

function clock(at: string): string {
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? at : date.toLocaleTimeString([], { hour12: false });
}

function Execution({ planned, execution }: { planned: string | null; execution: ExecutionMessage }) {
  const fallback = execution.model !== null && planned !== null && execution.model !== planned;
  const facts = [
    execution.cost_usd !== null ? usd(execution.cost_usd) : null,
    execution.latency_ms !== null ? ms(execution.latency_ms) : null,
  ].filter((fact) => fact !== null);
  return (
    <Box
      component="span"
      className="feed-execution"
      data-status={execution.status}
      data-serving-model={execution.model ?? ''}
      sx={{ display: 'block', pl: 0.5 }}
    >
      {execution.model ? (
        <Typography component="span" variant="body2">
          served by <b>{execution.model}</b>
        </Typography>
      ) : (
        <Typography component="span" variant="body2">
          served by no model
        </Typography>
      )}
      {execution.status !== 'ok' && (
        <Chip size="small" color="warning" variant="outlined" label={execution.status} sx={{ ml: 1 }} />
      )}
      {fallback && <Chip size="small" color="warning" label={`fallback from ${planned}`} sx={{ ml: 1 }} />}
      {facts.length > 0 && (
        <Typography component="span" variant="caption" sx={{ opacity: 0.75, ml: 1 }}>
          {facts.join(' · ')}
        </Typography>
      )}
    </Box>
  );
}

function DecisionLine({ item, onSelect }: { item: DecisionItem; onSelect: () => void }) {
  const { message, execution } = item;
  const outcome = message.allow ? `→ ${message.model} (${message.rule})` : `✖ denied: ${message.denial}`;
  return (
    <ButtonBase
      onClick={onSelect}
      aria-label={`Explain decision ${message.decision_id}`}
      sx={{ display: 'block', width: '100%', textAlign: 'left', borderRadius: 1, px: 0.5, '&:hover': { bgcolor: 'action.hover' } }}
    >
      <Typography component="span" variant="caption" sx={{ opacity: 0.6, mr: 1, fontFamily: MONO_FONTS }}>
        {clock(message.at)}
      </Typography>
      <Chip size="small" variant="outlined" label={message.source} sx={{ mr: 1 }} />
      <Typography component="span" variant="body2">
        {message.task} · LoA {message.loa}
        {message.risk ? ` · ${message.risk}` : ''}{' '}
        <Box component="span" sx={{ color: message.allow ? 'success.light' : 'error.light', fontWeight: 600 }}>
          {outcome}
        </Box>
      </Typography>
      {execution && <Execution planned={message.model} execution={execution} />}
    </ButtonBase>
  );
}

function AlertLine({ message }: { message: AlertMessage }) {
  const critical = message.severity === 'critical';
  return (
    <Box sx={{ px: 0.5 }}>
      <Typography component="span" variant="caption" sx={{ opacity: 0.6, mr: 1, fontFamily: MONO_FONTS }}>
        {clock(message.at)}
      </Typography>
      <Chip
        size="small"
        color={critical ? 'error' : 'warning'}
        icon={critical ? <ErrorOutlineIcon /> : <WarningAmberIcon />}
        label={message.severity}
        sx={{ mr: 1 }}
      />
      <Typography component="span" variant="body2">
        <b>{message.name}</b>
        {message.model ? ` · ${message.model}` : ''} — {message.message}
      </Typography>
    </Box>
  );
}

interface LiveLogProps {
  feed: FeedItem[];
  onSelectDecision: (item: DecisionItem) => void;
}

/** Recent decisions (with who served them, once run) and alerts from the socket, newest first. */
export function LiveLog({ feed, onSelectDecision }: LiveLogProps) {
  return (
    <Box
      component="ol"
      role="log"
      aria-label="Live decisions and alerts"
      aria-live="polite"
      sx={{ listStyle: 'none', m: 0, p: 0, overflow: 'auto', maxHeight: 320, minHeight: 120 }}
    >
      {feed.length === 0 && (
        <Typography component="li" variant="body2" sx={{ opacity: 0.7 }}>
          No decisions or alerts yet.
        </Typography>
      )}
      {feed.map((item) => (
        <Box
          component="li"
          key={item.key}
          data-kind={item.kind}
          data-decision-id={item.kind === 'decision' ? item.message.decision_id : undefined}
          className={item.kind === 'alert' ? 'feed-alert' : 'feed-decision'}
          sx={{ py: 0.5, borderBottom: 1, borderColor: 'divider' }}
        >
          {item.kind === 'decision' ? (
            <DecisionLine item={item} onSelect={() => onSelectDecision(item)} />
          ) : (
            <AlertLine message={item.message} />
          )}
        </Box>
      ))}
    </Box>
  );
}
