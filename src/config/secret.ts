import { inspect } from 'node:util';

/**
 * A credential that cannot leak by accident: every way a value reaches a log line, an error
 * message, JSON or a page (String(), template literals, JSON.stringify, util.inspect, pino's
 * serializers) prints a placeholder. Only `reveal()` hands out the value, and only the code that
 * signs requests calls it.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  equals(other: Secret): boolean {
    return this.#value === other.#value;
  }

  toString(): string {
    return '<redacted>';
  }

  toJSON(): string {
    return '<redacted>';
  }

  [inspect.custom](): string {
    return 'Secret(<redacted>)';
  }
}
