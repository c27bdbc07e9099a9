import { type Child, h } from './dom.js';
import { badge, jsonBlock, statusTone, when } from './ui.js';

/** What the notification log and the customer page both show of a notification. */
export interface NotificationLike {
  notificationType: string;
  subtype: string | null;
  receivedAt: string;
  outcome: string;
  payload: unknown;
}

/**
 * One notification, folded: when it came, its type and subtype and its outcome on the
 * summary line (then `summaryExtra`), and on click `detail` and the decoded payload.
 */
export function notificationEntry(n: NotificationLike, options: { className?: string; summaryExtra?: Child[]; detail?: Child } = {}): HTMLElement {
  return h(
    'details',
    { class: options.className },
    h(
      'summary',
      {},
      when(n.receivedAt),
      ' ',
      h('strong', {}, n.notificationType),
      n.subtype ? ` / ${n.subtype}` : '',
      ' ',
      badge(n.outcome, statusTone(n.outcome)),
      options.summaryExtra ?? [],
    ),
    options.detail ?? null,
    jsonBlock(n.payload),
  );
}
