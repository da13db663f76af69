// What the websocket has told us so far, folded from its messages.
import { readKillSwitch } from './killSwitch';
import type {
  AlertMessage,
  DecisionMessage,
  EventMessage,
  ExecutionMessage,
  KillSwitchState,
  ModelStat,
} from './types';

/** How many decisions and alerts the live pane keeps. */
export const FEED_LIMIT = 100;

/** A decision line; `execution` arrives after it when the decision was run. */
export interface DecisionItem {
  kind: 'decision';
  key: string;
  message: DecisionMessage;
  execution: ExecutionMessage | null;
}

export type FeedItem = DecisionItem | { kind: 'alert'; key: string; message: AlertMessage };

export interface LiveState {
  models: ModelStat[];
  statsAt: string | null;
  feed: FeedItem[];
  /** Executions whose decision line has not arrived (or has left the feed), newest first. */
  orphanExecutions: ExecutionMessage[];
  killSwitch: KillSwitchState | null;
  policyVersion: number | null;
  serverVersion: string | null;
  received: number;
}

export const initialLiveState: LiveState = {
  models: [],
  statsAt: null,
  feed: [],
  orphanExecutions: [],
  killSwitch: null,
  policyVersion: null,
  serverVersion: null,
  received: 0,
};

/** A kill-switch state the dashboard learned over HTTP (GET, or the answer to its PUT). */
export interface KillSwitchLearned {
  type: 'kill_switch_learned';
  state: KillSwitchState;
}

export type LiveAction = EventMessage | KillSwitchLearned;

function prepend(feed: FeedItem[], item: FeedItem): FeedItem[] {
  return [item, ...feed].slice(0, FEED_LIMIT);
}

/** Whether an execution is the run of this decision (by decision id, else by audit id). */
function runOf(execution: ExecutionMessage, decision: DecisionMessage): boolean {
  if (execution.decision_id === decision.decision_id) return true;
  return execution.audit_id !== null && execution.audit_id === decision.audit_id;
}

/** Attach an execution to its decision line; one that matches none is kept for a line to come. */
function withExecution(state: LiveState, execution: ExecutionMessage): LiveState {
  const index = state.feed.findIndex((item) => item.kind === 'decision' && runOf(execution, item.message));
  if (index === -1) {
    return { ...state, orphanExecutions: [execution, ...state.orphanExecutions].slice(0, FEED_LIMIT) };
  }
  const feed = [...state.feed];
  feed[index] = { ...(feed[index] as DecisionItem), execution };
  return { ...state, feed };
}

/** Fold one message into the state; newest feed items first, at most FEED_LIMIT of them. */
export function liveReducer(state: LiveState, action: LiveAction): LiveState {
  switch (action.type) {
    case 'hello':
      return {
        ...state,
        serverVersion: action.version,
        policyVersion: action.policy_version,
        // Who set it, when and why still hold only if the switch has not moved since.
        killSwitch:
          state.killSwitch?.kill_switch === action.kill_switch
            ? state.killSwitch
            : { kill_switch: action.kill_switch, updated_by: null, updated_at: null, reason: null },
      };
    case 'model_stats':
      return { ...state, models: action.models, statsAt: action.at };
    case 'decision': {
      const key = `d-${action.decision_id}-${action.source}-${state.received}`;
      const execution = state.orphanExecutions.find((orphan) => runOf(orphan, action)) ?? null;
      return {
        ...state,
        received: state.received + 1,
        feed: prepend(state.feed, { kind: 'decision', key, message: action, execution }),
        orphanExecutions: execution ? state.orphanExecutions.filter((orphan) => orphan !== execution) : state.orphanExecutions,
      };
    }
    case 'execution':
      return withExecution(state, action);
    case 'alert': {
      const key = `a-${action.name}-${action.at}-${state.received}`;
      return {
        ...state,
        received: state.received + 1,
        feed: prepend(state.feed, { kind: 'alert', key, message: action }),
      };
    }
    case 'kill_switch':
      return { ...state, killSwitch: readKillSwitch(action) };
    case 'kill_switch_learned':
      return { ...state, killSwitch: action.state };
    default:
      return state;
  }
}
