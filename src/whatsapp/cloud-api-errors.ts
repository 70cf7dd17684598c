/**
 * What Parley does with each Cloud API error (CLOUD-API.md §4, and issue 5 item 10). Pure: the send
 * worker asks `classifyCloudApiError` and acts on the answer; the sentence is what a rep reads on the
 * timeline.
 */
export type ErrorHandling =
  /** Retry with exponential backoff and full jitter, bounded; then dead-letter with an alert. */
  | 'retry'
  /** Do not retry; the message fails with the reason shown to the rep. */
  | 'fail'
  /** Do not retry; also mark the HCP's number unreachable. */
  | 'fail_unreachable'
  /** Meta held back marketing to this user: one retry, no sooner than 24 h later. */
  | 'retry_after_24h'
  /** Pause the sending number (spam or policy limits) and alert; the message waits. */
  | 'pause_number'
  /** The access token is bad: halt all sends and alert. */
  | 'halt_all'
  /** Not a code Parley knows: dead-letter for a person to look at. */
  | 'dead_letter';

export interface ErrorClass {
  handling: ErrorHandling;
  /** A sentence a rep understands. */
  explanation: string;
}

const TABLE: Record<number, ErrorClass> = {
  1: { handling: 'retry', explanation: 'WhatsApp had a temporary problem; Parley will try again.' },
  2: { handling: 'retry', explanation: 'WhatsApp was briefly unavailable; Parley will try again.' },
  4: { handling: 'retry', explanation: 'Too many requests to WhatsApp; Parley will try again shortly.' },
  80007: {
    handling: 'retry',
    explanation: 'The WhatsApp account reached its rate limit; Parley will try again shortly.',
  },
  130429: {
    handling: 'retry',
    explanation: 'The sending number is at its throughput limit; Parley will try again shortly.',
  },
  131056: {
    handling: 'retry',
    explanation: 'Too many messages to this HCP in a short time; Parley will try again shortly.',
  },
  131000: { handling: 'retry', explanation: 'WhatsApp reported an unknown error; Parley will try again.' },
  131016: { handling: 'retry', explanation: 'WhatsApp is temporarily unavailable; Parley will try again.' },
  131057: {
    handling: 'retry',
    explanation: 'The WhatsApp account is in maintenance; Parley will try again.',
  },
  131047: {
    handling: 'fail',
    explanation:
      'More than 24 hours have passed since the HCP last wrote: only an approved template can be sent now.',
  },
  470: {
    handling: 'fail',
    explanation:
      'More than 24 hours have passed since the HCP last wrote: only an approved template can be sent now.',
  },
  131050: { handling: 'fail', explanation: 'The HCP has stopped marketing messages from us on WhatsApp.' },
  131051: { handling: 'fail', explanation: 'WhatsApp does not support this message type.' },
  130472: {
    handling: 'fail',
    explanation: "WhatsApp held the message back (the HCP's number is part of a Meta experiment).",
  },
  130403: { handling: 'fail', explanation: 'This HCP cannot be messaged from our number.' },
  131021: { handling: 'fail', explanation: 'The recipient is our own sending number.' },
  131026: {
    handling: 'fail_unreachable',
    explanation:
      'The message could not be delivered: the number may not be on WhatsApp. Reach the HCP another way.',
  },
  131049: {
    handling: 'retry_after_24h',
    explanation:
      'WhatsApp held back this marketing message to keep engagement healthy; Parley will try once more after 24 hours.',
  },
  // Meta uses 131048 both for a spam restriction and, past the portfolio's messaging limit, for sends to
  // new recipients (whatsapp/sandbox/messaging-limit.ts); the code alone cannot tell them apart, and either
  // way a person must look (quality rating, or the tier Parley believes the number has).
  131048: {
    handling: 'pause_number',
    explanation:
      'WhatsApp restricted how many messages our number may send (messages flagged as spam, or the limit of new contacts per 24 hours reached); sends from it are paused until an administrator checks.',
  },
  368: {
    handling: 'pause_number',
    explanation: 'The WhatsApp account is temporarily blocked for a policy issue; sends are paused.',
  },
  190: {
    handling: 'halt_all',
    explanation: 'Parley cannot sign in to WhatsApp (access token); all sends are halted.',
  },
  0: { handling: 'halt_all', explanation: 'Parley cannot authenticate with WhatsApp; all sends are halted.' },
  100: { handling: 'fail', explanation: 'WhatsApp rejected the request as invalid.' },
  131008: { handling: 'fail', explanation: 'WhatsApp rejected the request: a required field is missing.' },
  131009: { handling: 'fail', explanation: 'WhatsApp rejected the request: a value is not valid.' },
};

/** Template problems (132xxx): the template, its language or its parameters do not match Meta's copy. */
const TEMPLATE_PROBLEM: ErrorClass = {
  handling: 'fail',
  explanation:
    "WhatsApp rejected the template (not approved at Meta, or its parameters do not match Meta's copy).",
};

/** How to handle a Cloud API error code (HTTP 5xx without a known code counts as transient). */
export function classifyCloudApiError(code: number | undefined, httpStatus?: number): ErrorClass {
  if (code !== undefined && TABLE[code]) return TABLE[code];
  if (code !== undefined && code >= 132000 && code < 133000) return TEMPLATE_PROBLEM;
  if (code === undefined && httpStatus !== undefined && httpStatus >= 500) {
    return {
      handling: 'retry',
      explanation: 'WhatsApp answered with a server error; Parley will try again.',
    };
  }
  return {
    handling: 'dead_letter',
    explanation: `WhatsApp answered with an error Parley does not know (code ${code ?? 'none'}).`,
  };
}

/**
 * Exponential backoff with full jitter (the AWS architecture blog's "full jitter"): a uniformly random
 * delay in [0, min(cap, base·2^attempt)]. `random` is passed in so the function stays pure.
 */
export function backoffDelayMs(attempt: number, random: number, baseMs = 1000, capMs = 5 * 60_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random * ceiling);
}
