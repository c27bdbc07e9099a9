import { call } from '../api.js';
import { h, table } from '../dom.js';
import { formatNumber } from '../format.js';
import type { PageContext } from '../main.js';
import { confirmAction, when } from '../ui.js';

interface RecoverAnswer {
  fetched: number;
  applied: number;
  duplicate: number;
  rejected: number;
  environments: string[];
}
interface Run extends RecoverAnswer {
  ranAt: string;
  startDate: string;
  endDate: string;
  onlyFailures: boolean;
}

// The service keeps no list of recovery runs behind an admin route (the scheduled job's runs
// are in the logs and in ase_recovery_runs_total): the page lists the runs made from this tab.
const RUNS_ITEM = 'entitlements-console.recovery-runs';
const runs = (): Run[] => JSON.parse(sessionStorage.getItem(RUNS_ITEM) ?? '[]') as Run[];

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
      run: async () => {
        const answer = await call<RecoverAnswer>('POST', '/admin/notifications/recover', { body });
        sessionStorage.setItem(RUNS_ITEM, JSON.stringify([{ ...answer, ...body, ranAt: new Date().toISOString() }, ...runs()].slice(0, 20)));
        return answer;
      },
    }).then(() => navigate('recovery', { t: String(Date.now()) }));
  });
  const list = runs();
  return h(
    'div',
    { class: 'page recovery' },
    h('h1', {}, 'Recovery'),
    h(
      'p',
      {},
      'Apple retries a notification for days, but not forever. Recovery fetches the App Store’s notification history for a window and applies what is missing. ' +
        'The service also runs it on its own (RECOVERY_INTERVAL); those runs are in its logs and metrics.',
    ),
    h('section', { class: 'card' }, h('h2', {}, 'Run a window'), form),
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Runs from this tab'),
      list.length === 0
        ? h('p', { class: 'muted' }, 'No run yet from this tab.')
        : table(
            'Recovery runs from this tab',
            ['Ran', 'Window', 'Fetched', 'Applied', 'Duplicate', 'Rejected'],
            list.map((run) => [
              when(run.ranAt),
              h('span', {}, when(run.startDate), ' → ', when(run.endDate)),
              formatNumber(run.fetched),
              formatNumber(run.applied),
              formatNumber(run.duplicate),
              formatNumber(run.rejected),
            ]),
          ),
    ),
  );
}
