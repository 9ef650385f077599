/**
 * What the callback receiver reports per request: the `event` and `result` labels of
 * zego_exporter_callbacks_total. Kept bounded so the metric's cardinality is fixed.
 */

export type CallbackEventLabel = 'stream_create' | 'stream_close' | 'mix_start' | 'mix_stop' | 'other';
export type CallbackResultLabel =
  | 'accepted'
  | 'duplicate'
  | 'stale'
  | 'unwatched'
  | 'ignored'
  | 'bad_signature'
  | 'expired'
  | 'replayed'
  | 'wrong_app'
  | 'malformed'
  | 'too_large'
  | 'too_slow'
  | 'overloaded';
