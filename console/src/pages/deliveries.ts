import { call, segment } from '../api.js';
import { emptyState, h, table } from '../dom.js';
import type { PageContext } from '../main.js';
import { badge, confirmAction, statusTone, when } from '../ui.js';

interface Delivery {
  eventId: string;
  type: string;
  userId: string | null;
  url: string;
  status: string;
  attempts: number;
  recordedAt: string;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  lastError: string | null;
}

const STATUSES = ['failed', 'pending', 'delivered'] as const;

export async function deliveriesPage({ params, navigate }: PageContext): Promise<Node> {
  const wanted = params.get('status') ?? 'failed';
  const status = (STATUSES as readonly string[]).includes(wanted) ? wanted : 'failed';
  const cursor = params.get('cursor') ?? undefined;
  const answer = await call<{ deliveries: Delivery[]; nextCursor: string | null }>('GET', '/admin/events/deliveries', { query: { status, cursor, limit: 50 } });

  const tabs = h(
    'div',
    { class: 'tabs', role: 'tablist', 'aria-label': 'Delivery status' },
    STATUSES.map((s) => h('a', { href: `#/deliveries?status=${s}`, role: 'tab', 'aria-selected': s === status ? 'true' : 'false' }, s)),
  );
  const rows = answer.deliveries.map((d) => {
    const redeliver = h('button', { type: 'button' }, 'Redeliver…');
    redeliver.addEventListener('click', () =>
      confirmAction({
        title: 'Redeliver an event',
        body: [`Sends event ${d.eventId} (${d.type}) again to every webhook URL, with the same webhook-id; the receiver deduplicates by it.`],
        confirmLabel: 'Redeliver',
        run: () => call('POST', `/admin/events/${segment(d.eventId)}/redeliver`),
      }).then(() => navigate('deliveries', { status })),
    );
    return [
      h('code', {}, d.eventId),
      d.type,
      d.userId ? h('a', { href: `#/customer?kind=user&q=${encodeURIComponent(d.userId)}` }, d.userId) : '—',
      d.url,
      badge(d.status, statusTone(d.status)),
      String(d.attempts),
      when(d.lastAttemptAt),
      d.lastError ?? '—',
      redeliver,
    ];
  });
  const empty =
    status === 'failed'
      ? emptyState('No failed deliveries.', 'Every event reached the app backend or is still being retried (see pending).')
      : status === 'pending'
        ? emptyState(
            'Nothing pending: delivery is caught up.',
            'With no EVENTS_WEBHOOK_URLS set there is nothing to deliver; the app backend can read GET /events instead.',
          )
        : emptyState('No delivered events yet.', 'Set EVENTS_WEBHOOK_URLS to have events sent to the app backend.');
  return h(
    'div',
    { class: 'page deliveries' },
    h('h1', {}, 'Event deliveries'),
    tabs,
    rows.length === 0 ? empty : table(`${status} deliveries`, ['Event', 'Type', 'User', 'URL', 'Status', 'Attempts', 'Last attempt', 'Last error', ''], rows),
    answer.nextCursor === null
      ? null
      : h('p', {}, h('a', { href: `#/deliveries?status=${status}&cursor=${encodeURIComponent(answer.nextCursor)}` }, 'Older →')),
  );
}
