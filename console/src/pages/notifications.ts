import { call } from '../api.js';
import { emptyState, h } from '../dom.js';
import type { PageContext } from '../main.js';
import { notificationEntry } from '../notification.js';

interface NotificationItem {
  notificationId: string;
  version: string;
  notificationType: string;
  subtype: string | null;
  environment: string | null;
  originalTransactionId: string | null;
  transactionId: string | null;
  receivedAt: string;
  source: string;
  outcome: string;
  userId: string | null;
  payload: unknown;
}

/** A date input's value (a local calendar day) → the instant it starts, in the browser's time zone. */
const dayStart = (day: string): string | undefined => (day === '' ? undefined : new Date(`${day}T00:00:00`).toISOString());
const dayEnd = (day: string): string | undefined => (day === '' ? undefined : new Date(new Date(`${day}T00:00:00`).getTime() + 86_400_000).toISOString());

export async function notificationsPage({ params, navigate }: PageContext): Promise<Node> {
  const filter = { type: params.get('type') ?? '', outcome: params.get('outcome') ?? '', from: params.get('from') ?? '', to: params.get('to') ?? '' };
  const cursor = params.get('cursor') ?? undefined;
  const answer = await call<{ notifications: NotificationItem[]; nextCursor: string | null }>('GET', '/admin/notifications', {
    query: { type: filter.type || undefined, outcome: filter.outcome || undefined, from: dayStart(filter.from), to: dayEnd(filter.to), cursor, limit: 50 },
  });

  const type = h('input', {
    id: 'filter-type',
    name: 'type',
    value: filter.type,
    placeholder: 'e.g. DID_RENEW',
    autocomplete: 'off',
    pattern: '[A-Za-z0-9_]*',
  });
  const outcome = h(
    'select',
    { id: 'filter-outcome', name: 'outcome' },
    ['', 'applied', 'recorded'].map((value) => h('option', { value, selected: value === filter.outcome }, value || 'Any outcome')),
  );
  const from = h('input', { id: 'filter-from', name: 'from', type: 'date', value: filter.from });
  const to = h('input', { id: 'filter-to', name: 'to', type: 'date', value: filter.to });
  const form = h(
    'form',
    { class: 'toolbar', role: 'search' },
    h('label', { for: 'filter-type' }, 'Type'),
    type,
    h('label', { for: 'filter-outcome' }, 'Outcome'),
    outcome,
    h('label', { for: 'filter-from' }, 'From'),
    from,
    h('label', { for: 'filter-to' }, 'To'),
    to,
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next: Record<string, string> = {};
    if (type.value.trim()) next.type = type.value.trim().toUpperCase();
    if (outcome.value) next.outcome = outcome.value;
    if (from.value) next.from = from.value;
    if (to.value) next.to = to.value;
    navigate('notifications', next);
  });

  const filtered = Object.values(filter).some((value) => value !== '');
  const list =
    answer.notifications.length === 0
      ? filtered
        ? emptyState('No notification matches these filters.', 'Widen the dates or clear the type.')
        : emptyState(
            'No notifications yet.',
            'Send a test notification (POST /admin/notifications/test) once App Store Connect points at POST /webhooks/apple/v2.',
          )
      : h(
          'div',
          { class: 'log' },
          answer.notifications.map((n) =>
            notificationEntry(n, {
              className: 'card',
              summaryExtra: [
                ' ',
                h('span', { class: 'muted' }, [n.environment ?? '', n.source, n.version].filter(Boolean).join(' · ')),
                n.userId ? [' ', h('a', { href: `#/customer?kind=user&q=${encodeURIComponent(n.userId)}` }, n.userId)] : '',
              ],
              detail: h('p', { class: 'muted' }, `Notification ${n.notificationId}`, n.originalTransactionId ? `, purchase ${n.originalTransactionId}` : ''),
            }),
          ),
        );
  const more =
    answer.nextCursor === null
      ? null
      : h(
          'p',
          {},
          h('a', { href: `#/notifications?${new URLSearchParams({ ...stripEmpty(filter), cursor: answer.nextCursor }).toString()}` }, 'Older notifications →'),
        );
  return h('div', { class: 'page notifications' }, h('h1', {}, 'Notification log'), form, list, more);
}

function stripEmpty(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== ''));
}
