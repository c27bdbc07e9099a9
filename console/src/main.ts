import './style.css';
import 'uplot/dist/uPlot.min.css';
import { ApiError, call, session, whenKeyRefused } from './api.js';
import { errorBox, h, replaceChildren } from './dom.js';
import { customerPage } from './pages/customer.js';
import { deliveriesPage } from './pages/deliveries.js';
import { notificationsPage } from './pages/notifications.js';
import { overviewPage } from './pages/overview.js';
import { recoveryPage } from './pages/recovery.js';
import { describeError } from './ui.js';

// Pages are addressed by the URL's fragment (#/customer?user=u-42): nothing of it reaches
// the server, and the admin key never appears in it.

export interface PageContext {
  params: URLSearchParams;
  /** Changes the fragment's parameters (a new history entry) and re-renders. */
  navigate: (page: string, params?: Record<string, string>) => void;
}
type Page = (context: PageContext) => Promise<Node>;

const PAGES: Record<string, { title: string; render: Page }> = {
  overview: { title: 'Overview', render: overviewPage },
  customer: { title: 'Customer', render: customerPage },
  notifications: { title: 'Notifications', render: notificationsPage },
  deliveries: { title: 'Deliveries', render: deliveriesPage },
  recovery: { title: 'Recovery', render: recoveryPage },
};

const root = document.getElementById('app')!;

function currentRoute(): { page: string; params: URLSearchParams } {
  const [path = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  return { page: path in PAGES ? path : 'overview', params: new URLSearchParams(query) };
}

function navigate(page: string, params: Record<string, string> = {}): void {
  const query = new URLSearchParams(params).toString();
  location.hash = `#/${page}${query ? `?${query}` : ''}`;
}

function signInView(message?: string): Node {
  const input = h('input', { id: 'admin-key', name: 'admin-key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const status = h('div', { 'aria-live': 'polite' }, message ? errorBox(message) : null);
  const form = h(
    'form',
    { class: 'sign-in card' },
    h('h1', {}, 'App Store Entitlements'),
    h('p', {}, 'Sign in with one of the service’s admin keys (ADMIN_API_KEYS). The key stays in this tab only and is sent only to the admin routes.'),
    h('label', { for: 'admin-key' }, 'Admin key'),
    input,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    status.replaceChildren(h('p', { class: 'muted' }, 'Checking the key…'));
    try {
      // The cheapest admin route: a wrong or non-admin key is refused here.
      await call('GET', '/admin/events/deliveries', { query: { status: 'failed', limit: 1 }, key });
      session.signIn(key);
      void render();
    } catch (error) {
      const refused = error instanceof ApiError && (error.status === 401 || error.status === 403);
      status.replaceChildren(errorBox(refused ? 'That key was refused: it is not one of the service’s admin keys.' : describeError(error)));
      input.select();
    }
  });
  queueMicrotask(() => input.focus());
  return h('main', { id: 'main', class: 'signed-out' }, form);
}

function shell(active: string, content: Node): Node {
  const signOut = h('button', { type: 'button', class: 'link' }, 'Sign out');
  signOut.addEventListener('click', () => {
    session.signOut();
    void render();
  });
  return h(
    'div',
    { class: 'shell' },
    h('a', { class: 'skip', href: '#main' }, 'Skip to content'),
    h(
      'header',
      {},
      h('span', { class: 'brand' }, 'Entitlements console'),
      h(
        'nav',
        { 'aria-label': 'Pages' },
        Object.entries(PAGES).map(([id, page]) => h('a', { href: `#/${id}`, 'aria-current': id === active ? 'page' : null }, page.title)),
      ),
      signOut,
    ),
    h('main', { id: 'main', tabindex: -1 }, content),
  );
}

let renderCount = 0;
async function render(): Promise<void> {
  const ticket = ++renderCount;
  if (session.key() === null) {
    replaceChildren(root, signInView());
    document.title = 'Sign in — Entitlements console';
    return;
  }
  const { page, params } = currentRoute();
  const definition = PAGES[page]!;
  document.title = `${definition.title} — Entitlements console`;
  const content = h('div', { class: 'loading', 'aria-busy': 'true' }, 'Loading…');
  replaceChildren(root, shell(page, content));
  let view: Node;
  try {
    view = await definition.render({ params, navigate });
  } catch (error) {
    view = errorBox(describeError(error));
  }
  // A newer navigation started meanwhile: its render wins.
  if (ticket !== renderCount || session.key() === null) return;
  content.replaceWith(view);
}

whenKeyRefused(() => {
  session.signOut();
  replaceChildren(root, signInView('The service refused the key (it may have been removed): sign in again.'));
});
window.addEventListener('hashchange', () => void render());
void render();
