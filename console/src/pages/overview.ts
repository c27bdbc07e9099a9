import uPlot from 'uplot';
import { call } from '../api.js';
import { emptyState, h, table } from '../dom.js';
import { formatBucket, formatMoney, formatNumber } from '../format.js';
import type { PageContext } from '../main.js';
import {
  type ChartData,
  COUNT_METRICS,
  type CountPoint,
  countSeries,
  type Interval,
  METRIC_LABELS,
  PERIODS,
  type Period,
  periodWindow,
  type RevenuePoint,
  rankedCounts,
  revenueSeries,
} from '../shape.js';
import { when } from '../ui.js';

interface Summary {
  asOf: string;
  activeSubscriptions: { total: number; byProduct: Record<string, number>; byStatus: Record<string, number>; byPeriodType: Record<string, number> };
  activeEntitlements: Record<string, number>;
}

// The series colours; style.css has the same list as .swatch.c0 … .c5 for the totals tables.
const COLORS = ['#0060c0', '#1a7f37', '#9a6700', '#cf222e', '#8250df', '#0a7c86'];
/** Axis steps for counts: whole numbers only. */
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000];

function stat(label: string, value: string): HTMLElement {
  return h('div', { class: 'stat card' }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label));
}

function countsTable(caption: string, counts: Record<string, number>, keyLabel: string): HTMLElement {
  const rows = rankedCounts(counts);
  return h(
    'section',
    { class: 'card' },
    h('h3', {}, caption),
    rows.length === 0
      ? h('p', { class: 'muted' }, 'None.')
      : table(
          caption,
          [keyLabel, 'Count'],
          rows.map(([key, n]) => [key, formatNumber(n)]),
        ),
  );
}

function chart(title: string, data: ChartData, interval: Interval, money: boolean): HTMLElement {
  const holder = h('div', { class: 'chart', role: 'img', 'aria-label': `${title}: a chart per ${interval}` });
  const legendRows = data.labels.map((label, i) => [
    h(
      'span',
      {},
      h('span', { class: `swatch c${i % COLORS.length}`, 'aria-hidden': 'true' }),
      label in METRIC_LABELS ? METRIC_LABELS[label as keyof typeof METRIC_LABELS] : label,
    ),
    money ? formatMoney(data.total[i] ?? 0, label) : formatNumber(data.total[i] ?? 0),
  ]);
  const section = h(
    'section',
    { class: 'card chart-card' },
    h('h3', {}, title),
    holder,
    table(`${title}, totals for the period`, [money ? 'Currency' : 'Metric', 'Total'], legendRows),
  );
  // uPlot needs the holder's width: draw once the section is in the document.
  requestAnimationFrame(() => {
    const width = Math.max(280, holder.clientWidth);
    const plot = new uPlot(
      {
        width,
        height: 240,
        legend: { show: false },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(money ? 1 : 2, max)] } },
        axes: [
          { values: (_u, ticks) => ticks.map((t) => formatBucket(new Date(t * 1000).toISOString(), interval)) },
          { values: (_u, ticks) => ticks.map((t) => formatNumber(t)), size: 60, ...(money ? {} : { incrs: COUNT_STEPS }) },
        ],
        series: [{}, ...data.labels.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length]!, width: 2, points: { show: true, size: 4 } }))],
      },
      data.columns,
      holder,
    );
    new ResizeObserver(() => {
      if (holder.clientWidth > 0 && Math.abs(holder.clientWidth - plot.width) > 4) plot.setSize({ width: holder.clientWidth, height: 240 });
    }).observe(holder);
  });
  return section;
}

export async function overviewPage({ params, navigate }: PageContext): Promise<Node> {
  const period = (params.get('period') ?? '30d') as Period;
  const chosen: Period = period in PERIODS ? period : '30d';
  const environment = params.get('environment') ?? '';
  const window = periodWindow(chosen, new Date());
  const query = { ...window, ...(environment ? { environment } : {}) };

  const [summary, counts, revenue] = await Promise.all([
    call<Summary>('GET', '/admin/analytics/summary', { query: environment ? { environment } : {} }),
    Promise.all(
      COUNT_METRICS.map((metric) => call<{ metric: string; points: CountPoint[] }>('GET', '/admin/analytics/timeseries', { query: { metric, ...query } })),
    ),
    call<{ points: RevenuePoint[] }>('GET', '/admin/analytics/timeseries', { query: { metric: 'revenue', ...query } }),
  ]);

  const periodSelect = h(
    'select',
    { id: 'period', name: 'period' },
    Object.entries(PERIODS).map(([id, p]) => h('option', { value: id, selected: id === chosen }, p.label)),
  );
  const environmentSelect = h(
    'select',
    { id: 'environment', name: 'environment' },
    ['', 'Production', 'Sandbox'].map((value) => h('option', { value, selected: value === environment }, value || 'All environments')),
  );
  const picker = h(
    'form',
    { class: 'toolbar', 'aria-label': 'What the overview counts' },
    h('label', { for: 'period' }, 'Period'),
    periodSelect,
    h('label', { for: 'environment' }, 'Environment'),
    environmentSelect,
  );
  const update = () => navigate('overview', { period: periodSelect.value, ...(environmentSelect.value ? { environment: environmentSelect.value } : {}) });
  periodSelect.addEventListener('change', update);
  environmentSelect.addEventListener('change', update);

  const active = summary.activeSubscriptions;
  const countData = countSeries(counts);
  const revenueData = revenueSeries(revenue.points);
  const nothingYet = active.total === 0 && countData.total.every((n) => n === 0) && revenueData.labels.length === 0;

  return h(
    'div',
    { class: 'page overview' },
    h('h1', {}, 'Overview'),
    picker,
    h('p', { class: 'muted' }, 'Counts as of ', when(summary.asOf), '; charts bucketed in UTC.'),
    nothingYet
      ? emptyState(
          'No subscriptions yet.',
          'Point App Store Server Notifications at POST /webhooks/apple/v2, or send a test notification (POST /admin/notifications/test); purchases appear here as they arrive.',
        )
      : null,
    h(
      'div',
      { class: 'stats' },
      stat('Active subscriptions', formatNumber(active.total)),
      stat('In grace period', formatNumber(active.byStatus.grace_period ?? 0)),
      stat('In a trial', formatNumber(active.byPeriodType.trial ?? 0)),
      stat(`New subscriptions, ${PERIODS[chosen].label.toLowerCase()}`, formatNumber(countData.total[0] ?? 0)),
    ),
    h(
      'div',
      { class: 'charts' },
      chart('Subscriptions', countData, window.interval, false),
      revenueData.labels.length === 0
        ? h('section', { class: 'card' }, h('h3', {}, 'Gross revenue'), emptyState('No revenue in this period.'))
        : chart('Gross revenue', revenueData, window.interval, true),
    ),
    h(
      'div',
      { class: 'grid' },
      countsTable('Active by product', active.byProduct, 'Product'),
      countsTable('Active by period type', active.byPeriodType, 'Period type'),
      countsTable('Active by status', active.byStatus, 'Status'),
      countsTable('Active entitlements (users)', summary.activeEntitlements, 'Entitlement'),
    ),
  );
}
