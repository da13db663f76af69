// The kill switch as the server reports it, over HTTP or the websocket.
import type { KillSwitchState, KillSwitchWire } from './types';

/** One shape whichever name the server gives the flag (`kill_switch`, or `on`). */
export function readKillSwitch(wire: KillSwitchWire): KillSwitchState {
  return {
    kill_switch: wire.kill_switch ?? wire.on ?? false,
    updated_by: wire.updated_by ?? null,
    updated_at: wire.updated_at ?? null,
    reason: wire.reason ?? null,
  };
}
