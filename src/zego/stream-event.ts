/**
 * ZEGO's stream_create / stream_close callbacks as typed events: what callbacks/parse.ts reads from
 * a body and the fleet fan-out carries, and what the state applies. Here, not in callbacks/, so the
 * state knows the protocol's events without knowing the feature that receives them.
 */

export type CloseReason = 'normal_stop' | 'heartbeat_timeout' | 'relogin' | 'kicked' | 'tcp_disconnect' | 'room_cleared' | 'deleted' | 'other';

/** stream_close `type` → the `reason` label of zego_stream_last_close_reason. */
const CLOSE_REASONS: Readonly<Record<number, CloseReason>> = {
  0: 'normal_stop',
  1: 'heartbeat_timeout',
  2: 'relogin',
  3: 'kicked',
  4: 'tcp_disconnect',
  5: 'room_cleared',
  100: 'deleted',
};

export function closeReason(type: number): CloseReason {
  return CLOSE_REASONS[type] ?? 'other';
}

/**
 * `roomId`: the callback's room_id when it keeps the room id rule (absent otherwise: the room stays
 * unknown). `roomSession`: the opaque room_session_id, within which alone stream_seq orders events
 * (absent when missing or unusable).
 */
export type StreamEvent =
  | { event: 'stream_create'; streamId: string; streamSeq: number; createTimeMs: number; roomId?: string; roomSession?: string }
  | {
      event: 'stream_close';
      roomId?: string;
      roomSession?: string;
      streamId: string;
      streamSeq: number;
      createTimeMs: number | null;
      destroyTimeMs: number | null;
      type: number;
      reason: CloseReason;
    };
