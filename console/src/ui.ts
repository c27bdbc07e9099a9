import { ApiError } from './api.js';
import { h } from './dom.js';
import { formatDateTime, utcTitle } from './format.js';

/** A date in the browser's time zone, the UTC instant on hover. */
export function when(iso: string | null | undefined): HTMLElement {
  if (iso === null || iso === undefined) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: utcTitle(iso) }, formatDateTime(iso));
}

export function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.code}${error.status > 0 ? `, HTTP ${error.status}` : ''})`;
  return error instanceof Error ? error.message : String(error);
}

/** Pretty JSON in a scrollable block (as text, never markup). */
export function jsonBlock(value: unknown): HTMLElement {
  return h('pre', { class: 'json', tabindex: 0 }, JSON.stringify(value, null, 2));
}

export function badge(text: string, tone: 'good' | 'bad' | 'warn' | 'plain' = 'plain'): HTMLElement {
  return h('span', { class: `badge ${tone}` }, text);
}

export function statusTone(status: string): 'good' | 'bad' | 'warn' | 'plain' {
  if (status === 'active' || status === 'delivered' || status === 'applied' || status === 'success') return 'good';
  if (status === 'failed' || status === 'failure' || status === 'revoked' || status === 'expired') return 'bad';
  if (status === 'grace_period' || status === 'billing_retry' || status === 'pending') return 'warn';
  return 'plain';
}

/**
 * Every action goes through here: a modal dialog says what will happen, the operator
 * confirms (or cancels with Escape), the action runs, and the dialog shows the service's
 * (or Apple's) answer, or the error, until closed.
 */
export function confirmAction(options: { title: string; body: (string | Node)[]; confirmLabel: string; run: () => Promise<unknown> }): Promise<unknown> {
  return new Promise((resolve) => {
    const result = h('div', { class: 'dialog-result', 'aria-live': 'polite' });
    const confirm = h('button', { type: 'submit', class: 'primary' }, options.confirmLabel);
    const cancel = h('button', { type: 'button' }, 'Cancel');
    let answer: unknown = null;
    const dialog = h(
      'dialog',
      { 'aria-labelledby': 'dialog-title' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: 'dialog-title' }, options.title),
        ...options.body.map((part) => (typeof part === 'string' ? h('p', {}, part) : part)),
        result,
        h('div', { class: 'actions' }, cancel, confirm),
      ),
    );
    const close = () => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    cancel.addEventListener('click', close);
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      close();
    });
    dialog.querySelector('form')!.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (confirm.dataset.done === 'true') return close();
      confirm.disabled = true;
      cancel.disabled = true;
      result.replaceChildren(h('p', { class: 'muted' }, 'Working…'));
      try {
        answer = await options.run();
        result.replaceChildren(h('p', { class: 'ok' }, 'Done. The answer:'), jsonBlock(answer));
      } catch (error) {
        result.replaceChildren(h('p', { class: 'error', role: 'alert' }, `Failed: ${describeError(error)}`));
      }
      confirm.textContent = 'Close';
      cancel.hidden = true;
      confirm.dataset.done = 'true';
      confirm.disabled = false;
      confirm.focus();
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    confirm.focus();
  });
}
