import { call } from '../api.js';
import { emptyState, h, table } from '../dom.js';
import { formatNumber } from '../format.js';
import type { PageContext } from '../main.js';
import { badge, confirmAction, statusTone, when } from '../ui.js';

interface RecoverAnswer {
  fetched: number;
  applied: number;
  duplicate: number;
  rejected: number;
  environments: string[];
}
interface Run {
  id: number;
  trigger: 'schedule' | 'admin' | 'cli';
  outcome: 'success' | 'failure';
  startedAt: string;
  finishedAt: string;
  startDate: string | null;
  endDate: string | null;
  onlyFailures: boolean;
  fetched: number;
  applied: number;
  duplicate: number;
  rejected: number;
  error: { code: string; message: string } | null;
}

const TRIGGERS: Record<Run['trigger'], string> = { schedule: 'Scheduled', admin: 'Admin', cli: 'CLI' };

function runsSection(runs: Run[]): HTMLElement {
  return h(
    'section',
    { class: 'card', id: 'recovery-runs' },
    h('h2', {}, 'Last runs'),
    runs.length === 0
      ? emptyState(
          'No recovery run yet.',
          'Run a window above, or let the service run it on its own (RECOVERY_INTERVAL, with App Store Server API credentials): every run is listed here.',
        )
      : table(
          'Last recovery runs, newest first',
          ['Started', 'Trigger', 'Window', 'Outcome', 'Fetched', 'Applied', 'Duplicate', 'Rejected', 'Error'],
          runs.map((run) => [
            when(run.startedAt),
            TRIGGERS[run.trigger] ?? run.trigger,
            run.startDate === null ? '—' : h('span', {}, when(run.startDate), ' → ', when(run.endDate), run.onlyFailures ? ' (failures only)' : ''),
            badge(run.outcome, statusTone(run.outcome)),
            formatNumber(run.fetched),
            formatNumber(run.applied),
            formatNumber(run.duplicate),
            formatNumber(run.rejected),
            run.error === null ? '' : h('span', { title: run.error.message }, h('code', {}, run.error.code), ' ', run.error.message),
          ]),
        ),
  );
}

const localInput = (date: Date): string => {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return shifted.toISOString().slice(0, 16);
};

export async function recoveryPage({ navigate }: PageContext): Promise<Node> {
  const now = new Date();
  const start = h('input', { id: 'recover-start', type: 'datetime-local', required: true, value: localInput(new Date(now.getTime() - 86_400_000)) });
  const end = h('input', { id: 'recover-end', type: 'datetime-local', required: true, value: localInput(now) });
  const onlyFailures = h('input', { id: 'recover-only-failures', type: 'checkbox', checked: true });
  const form = h(
    'form',
    { class: 'toolbar' },
    h('label', { for: 'recover-start' }, 'From'),
    start,
    h('label', { for: 'recover-end' }, 'To'),
    end,
    h('label', { for: 'recover-only-failures', class: 'check' }, onlyFailures, ' Only notifications Apple failed to deliver'),
    h('button', { type: 'submit', class: 'primary' }, 'Recover…'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = { startDate: new Date(start.value).toISOString(), endDate: new Date(end.value).toISOString(), onlyFailures: onlyFailures.checked };
    void confirmAction({
      title: 'Recover a window',
      body: [
        'Reads the App Store’s notification history for this window and applies every notification the service has not recorded.',
        when(body.startDate),
        ' → ',
        when(body.endDate),
      ],
      confirmLabel: 'Recover',
      run: () => call<RecoverAnswer>('POST', '/admin/notifications/recover', { body }),
    }).then(() => navigate('recovery', { t: String(Date.now()) }));
  });
  const { runs } = await call<{ runs: Run[] }>('GET', '/admin/notifications/recover/runs', { query: { limit: 50 } });
  return h(
    'div',
    { class: 'page recovery' },
    h('h1', {}, 'Recovery'),
    h(
      'p',
      {},
      'Apple retries a notification for days, but not forever. Recovery fetches the App Store’s notification history for a window and applies what is missing. ' +
        'The service also runs it on its own (RECOVERY_INTERVAL); its runs are listed below with the ones asked for here.',
    ),
    h('section', { class: 'card' }, h('h2', {}, 'Run a window'), form),
    runsSection(runs),
  );
}
