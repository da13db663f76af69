// What the websocket has told us so far, folded from its messages.
import { readKillSwitch } from './killSwitch';
import type {
  AlertMessage,
  DecisionMessage,
  EventMessage,
  KillSwitchState,
  ModelStat,
} from './types';

/** How many decisions and alerts the live pane keeps. */
export const FEED_LIMIT = 100;

export type FeedItem =
  | { kind: 'decision'; key: string; message: DecisionMessage }
  | { kind: 'alert'; key: string; message: AlertMessage };

export interface LiveState {
  models: ModelStat[];
  statsAt: string | null;
  feed: FeedItem[];
  killSwitch: KillSwitchState | null;
  policyVersion: number | null;
  serverVersion: string | null;
  received: number;
}

export const initialLiveState: LiveState = {
  models: [],
  statsAt: null,
  feed: [],
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
      return {
        ...state,
        received: state.received + 1,
        feed: prepend(state.feed, { kind: 'decision', key, message: action }),
      };
    }
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
