import { CodedError } from './errors.js';

/** A setting that stops start-up; `variable` names it, and the message is one line. */
export class ConfigError extends CodedError {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super('INVALID_CONFIG', `${variable} ${problem}`);
  }
}
