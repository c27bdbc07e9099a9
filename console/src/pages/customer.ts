import { ApiError, call, segment } from '../api.js';
import { emptyState, errorBox, h, table } from '../dom.js';
import { formatMilliunits } from '../format.js';
import type { PageContext } from '../main.js';
import { notificationEntry } from '../notification.js';
import { type CustomerLike, customerTimeline, type SearchKind } from '../shape.js';
import { badge, confirmAction, describeError, jsonBlock, statusTone, when } from '../ui.js';

interface Entitlement {
  entitlement: string;
  active: boolean;
  status: string;
  productId: string | null;
  originalTransactionId: string | null;
  expiresDate: string | null;
  willRenew: boolean | null;
  periodType: string | null;
  source: string;
  environment: string | null;
}
interface Notification {
  notificationId: string;
  notificationType: string;
  subtype: string | null;
  receivedAt: string;
  outcome: string;
  source: string;
  originalTransactionId: string | null;
  payload: unknown;
}
interface Customer extends CustomerLike {
  appAccountToken: string | null;
  firstSeenAt: string | null;
  entitlements: Entitlement[];
  purchases: (CustomerLike['purchases'][number] & { productId: string | null; productType: string | null; environment: string | null })[];
  grants: (CustomerLike['grants'][number] & { endedAt: string | null })[];
  notifications: Notification[];
  events: { id: string; type: string; timestamp: string; data: unknown }[];
  truncated: Record<string, boolean>;
}
interface OrderAnswer {
  orderId: string;
  transactions: { transactionId: string; originalTransactionId: string; productId: string; purchaseDate: string; userId: string | null }[];
}

export const SEARCH_KINDS: Record<SearchKind, string> = {
  user: 'User id',
  order: 'Order id',
  transaction: 'Transaction id',
  original: 'Original transaction id',
  token: 'App account token',
};

function searchForm(kind: SearchKind, value: string, navigate: PageContext['navigate']): HTMLElement {
  const select = h(
    'select',
    { id: 'search-kind', name: 'kind' },
    Object.entries(SEARCH_KINDS).map(([id, label]) => h('option', { value: id, selected: id === kind }, label)),
  );
  const input = h('input', { id: 'search-value', name: 'q', type: 'search', value, required: true, autocomplete: 'off', spellcheck: 'false' });
  const form = h(
    'form',
    { class: 'toolbar search', role: 'search' },
    h('label', { for: 'search-kind' }, 'Find by'),
    select,
    h('label', { for: 'search-value', class: 'visually-hidden' }, 'Value'),
    input,
    h('button', { type: 'submit', class: 'primary' }, 'Find'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    navigate('customer', { kind: select.value, q: input.value.trim() });
  });
  return form;
}

/** From what the operator typed to a user id (or a page explaining why there is none). */
async function resolveUser(kind: SearchKind, value: string): Promise<string | Node> {
  if (kind === 'user') return value;
  if (kind === 'order') {
    let order: OrderAnswer;
    try {
      order = await call<OrderAnswer>('GET', `/admin/orders/${segment(value)}`);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'ORDER_NOT_FOUND')
        return emptyState(`Apple knows no order ${value}.`, 'Check the id on the customer’s emailed receipt.');
      throw error;
    }
    const owners = [...new Set(order.transactions.map((t) => t.userId).filter((id): id is string => id !== null))];
    if (owners.length === 1) return owners[0]!;
    return h(
      'section',
      { class: 'card' },
      h('h2', {}, `Order ${order.orderId}`),
      owners.length === 0 ? h('p', {}, 'None of its purchases is linked to a user of this service yet.') : h('p', {}, 'Its purchases belong to several users:'),
      table(
        'Transactions of the order',
        ['Transaction', 'Product', 'Purchased', 'User'],
        order.transactions.map((t) => [
          t.transactionId,
          t.productId,
          when(t.purchaseDate),
          t.userId === null ? '—' : h('a', { href: `#/customer?kind=user&q=${encodeURIComponent(t.userId)}` }, t.userId),
        ]),
      ),
    );
  }
  const query = kind === 'transaction' ? { transactionId: value } : kind === 'original' ? { originalTransactionId: value } : { appAccountToken: value };
  const found = await call<{ userId: string | null; originalTransactionId: string | null; purchaseRecorded: boolean }>('GET', '/admin/lookup', { query });
  if (found.userId !== null) return found.userId;
  return emptyState(
    found.purchaseRecorded
      ? `Purchase ${found.originalTransactionId} is recorded but linked to no user.`
      : `No ${SEARCH_KINDS[kind].toLowerCase()} ${value} is known.`,
    found.purchaseRecorded
      ? 'The app links it with POST /users/:userId/transactions (or an appAccountToken at purchase).'
      : 'Check the id; purchases appear once a notification or a link has recorded them.',
  );
}

function entitlementsSection(customer: Customer, rerender: () => void): HTMLElement {
  const rows = customer.entitlements.map((e) => {
    const actions: Node[] = [];
    if (e.source === 'app_store' && e.originalTransactionId !== null && e.productId !== null) {
      const extend = h('button', { type: 'button' }, 'Extend renewal…');
      extend.addEventListener('click', () => extendDialog(e.originalTransactionId!, e.environment).then(rerender));
      actions.push(extend);
    }
    return [
      h('strong', {}, e.entitlement),
      badge(e.status, statusTone(e.status)),
      e.source,
      e.productId ?? '—',
      when(e.expiresDate),
      e.periodType ?? '—',
      e.willRenew === null ? '—' : e.willRenew ? 'yes' : 'no',
      actions,
    ];
  });
  const refresh = h('button', { type: 'button', id: 'refresh-user' }, 'Refresh from the App Store…');
  refresh.addEventListener('click', () =>
    confirmAction({
      title: 'Refresh from the App Store',
      body: [
        `Asks the App Store Server API for the current state of ${customer.userId}’s subscriptions, records what it answers, and shows the entitlements that follow.`,
      ],
      confirmLabel: 'Refresh',
      run: () => call('POST', `/admin/users/${segment(customer.userId)}/refresh`),
    }).then(rerender),
  );
  return h(
    'section',
    { class: 'card', id: 'entitlements' },
    h('h2', {}, 'Entitlements now'),
    h('div', { class: 'toolbar' }, refresh),
    rows.length === 0
      ? emptyState('No entitlements.', 'Grant one below, or link a purchase from the app.')
      : table('Entitlements now', ['Entitlement', 'Status', 'Source', 'Product', 'Expires', 'Period', 'Renews', ''], rows),
  );
}

function extendDialog(originalTransactionId: string, environment: string | null): Promise<unknown> {
  const days = h('input', { id: 'extend-days', type: 'number', min: 1, max: 90, value: 7, required: true });
  const reason = h(
    'select',
    { id: 'extend-reason' },
    ['Undeclared', 'Customer satisfaction', 'Other', 'Service issue or outage'].map((label, i) =>
      h('option', { value: i, selected: i === 1 }, `${i} — ${label}`),
    ),
  );
  return confirmAction({
    title: 'Extend a renewal date',
    body: [
      `Asks Apple to move the renewal date of purchase ${originalTransactionId} later. Apple allows 1 to 90 days, twice a year per subscription.`,
      h('label', { for: 'extend-days' }, 'Days'),
      days,
      h('label', { for: 'extend-reason' }, 'Reason'),
      reason,
    ],
    confirmLabel: 'Extend',
    run: () =>
      call('POST', `/admin/subscriptions/${segment(originalTransactionId)}/extend`, {
        body: { days: Number(days.value), reason: Number(reason.value) },
        query: environment ? { environment } : {},
      }),
  });
}

function grantsSection(customer: Customer, rerender: () => void): HTMLElement {
  const entitlement = h('input', {
    id: 'grant-entitlement',
    name: 'entitlement',
    required: true,
    value: customer.entitlements[0]?.entitlement ?? '',
    autocomplete: 'off',
  });
  const duration = h(
    'select',
    { id: 'grant-duration', name: 'duration' },
    [
      ['P1D', '1 day'],
      ['P7D', '1 week'],
      ['P1M', '1 month'],
      ['P3M', '3 months'],
      ['P1Y', '1 year'],
    ].map(([value, label]) => h('option', { value: value!, selected: value === 'P1M' }, label!)),
  );
  const reason = h('input', { id: 'grant-reason', name: 'reason', required: true, placeholder: 'e.g. support ticket 1234', autocomplete: 'off' });
  const form = h(
    'form',
    { class: 'toolbar' },
    h('label', { for: 'grant-entitlement' }, 'Entitlement'),
    entitlement,
    h('label', { for: 'grant-duration' }, 'For'),
    duration,
    h('label', { for: 'grant-reason' }, 'Reason'),
    reason,
    h('button', { type: 'submit' }, 'Grant…'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = { entitlement: entitlement.value.trim(), duration: duration.value, reason: reason.value.trim() };
    void confirmAction({
      title: 'Grant access',
      body: [
        `Gives ${customer.userId} the entitlement “${body.entitlement}” for ${duration.selectedOptions[0]?.textContent ?? body.duration}, without a purchase.`,
      ],
      confirmLabel: 'Grant',
      run: () => call('POST', `/admin/users/${segment(customer.userId)}/grants`, { body }),
    }).then(rerender);
  });
  const rows = customer.grants.map((g) => {
    const running = g.endedAt === null && Date.parse(g.expiresDate) > Date.now();
    const end = h('button', { type: 'button' }, 'End now…');
    end.addEventListener('click', () =>
      confirmAction({
        title: 'End a grant',
        body: [`Ends the grant of “${g.entitlement}” to ${customer.userId} now.`],
        confirmLabel: 'End grant',
        run: () => call('DELETE', `/admin/users/${segment(customer.userId)}/grants/${segment(g.grantId)}`, { query: { reason: 'ended from the console' } }),
      }).then(rerender),
    );
    return [g.entitlement, when(g.startsAt), when(g.endedAt ?? g.expiresDate), g.reason, running ? end : badge('ended')];
  });
  return h(
    'section',
    { class: 'card', id: 'grants' },
    h('h2', {}, 'Grants'),
    form,
    rows.length === 0 ? h('p', { class: 'muted' }, 'No grants yet.') : table('Grants', ['Entitlement', 'From', 'Until', 'Reason', ''], rows),
  );
}

function timelineSection(customer: Customer): HTMLElement {
  const entries = customerTimeline(customer);
  return h(
    'section',
    { class: 'card', id: 'timeline' },
    h('h2', {}, 'Timeline'),
    entries.length === 0
      ? emptyState('Nothing recorded for this user yet.', 'Purchases appear once the app links them or a notification attributes them.')
      : h(
          'ol',
          { class: 'timeline' },
          entries.map((entry) =>
            h(
              'li',
              { class: `kind-${entry.kind}` },
              when(entry.at),
              ' ',
              h('strong', {}, entry.title),
              entry.price ? ` · ${formatMilliunits(entry.price.milliunits, entry.price.currency)}` : '',
              h('div', { class: 'muted' }, entry.detail),
            ),
          ),
        ),
  );
}

function notificationsSection(customer: Customer): HTMLElement {
  return h(
    'section',
    { class: 'card', id: 'customer-notifications' },
    h('h2', {}, 'Notifications'),
    customer.notifications.length === 0
      ? h('p', { class: 'muted' }, 'No notifications concern this user.')
      : h(
          'div',
          {},
          customer.notifications.map((n) => notificationEntry(n)),
        ),
  );
}

function eventsSection(customer: Customer): HTMLElement {
  return h(
    'section',
    { class: 'card', id: 'customer-events' },
    h('h2', {}, 'Events to the app backend'),
    customer.events.length === 0
      ? h('p', { class: 'muted' }, 'No events for this user.')
      : h(
          'div',
          {},
          customer.events.map((e) =>
            h('details', {}, h('summary', {}, when(e.timestamp), ' ', h('strong', {}, e.type), ' ', h('code', {}, e.id)), jsonBlock(e.data)),
          ),
        ),
  );
}

export async function customerPage({ params, navigate }: PageContext): Promise<Node> {
  const kindParam = params.get('kind') ?? 'user';
  const kind: SearchKind = kindParam in SEARCH_KINDS ? (kindParam as SearchKind) : 'user';
  const value = params.get('q') ?? '';
  const page = h('div', { class: 'page customer' }, h('h1', {}, 'Customer'), searchForm(kind, value, navigate));
  if (value === '') {
    page.append(
      emptyState(
        'Find a customer by any of their ids.',
        'A user id, the order id from their emailed receipt, a transaction id, an original transaction id or their app account token.',
      ),
    );
    return page;
  }
  const resolved = await resolveUser(kind, value);
  if (typeof resolved !== 'string') {
    page.append(resolved);
    return page;
  }
  const holder = h('div', {});
  page.append(holder);
  const load = async () => {
    try {
      const customer = await call<Customer>('GET', `/admin/users/${segment(resolved)}`);
      holder.replaceChildren(customerView(customer, () => void load()));
    } catch (error) {
      holder.replaceChildren(errorBox(describeError(error)));
    }
  };
  await load();
  return page;
}

function customerView(customer: Customer, rerender: () => void): HTMLElement {
  const known = customer.firstSeenAt !== null || customer.purchases.length > 0 || customer.grants.length > 0;
  return h(
    'div',
    {},
    h(
      'section',
      { class: 'card', id: 'customer-summary' },
      h('h2', {}, 'User ', h('code', {}, customer.userId)),
      known ? null : h('p', { class: 'muted' }, 'The service has recorded nothing about this user yet (an unknown user has no entitlements).'),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'App account token'),
        h('dd', {}, customer.appAccountToken ? h('code', {}, customer.appAccountToken) : '—'),
        h('dt', {}, 'First seen'),
        h('dd', {}, when(customer.firstSeenAt)),
        h('dt', {}, 'Purchases'),
        h('dd', {}, String(customer.purchases.length)),
      ),
    ),
    entitlementsSection(customer, rerender),
    grantsSection(customer, rerender),
    timelineSection(customer),
    notificationsSection(customer),
    eventsSection(customer),
  );
}
