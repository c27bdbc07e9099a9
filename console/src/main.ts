import './style.css';
import 'uplot/dist/uPlot.min.css';
import { ApiError, apps, loadApps, session, whenKeyRefused } from './api.js';
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
      // The installation's apps: a wrong or non-admin key is refused here, and the list is the switcher's.
      await loadApps(key);
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

/** The app switcher: only for an installation of several apps; a choice reloads the page's data for that app. */
function appSwitcher(): Node | null {
  const list = apps.list() ?? [];
  if (list.length < 2) return null;
  const select = h(
    'select',
    { id: 'app-switcher', name: 'app' },
    list.map((app) => h('option', { value: app.id, title: app.bundleId, selected: app.id === apps.current() }, app.id)),
  );
  select.addEventListener('change', () => {
    apps.choose(select.value);
    void render();
  });
  return h('div', { class: 'app-switcher' }, h('label', { for: 'app-switcher' }, 'App'), select);
}

function shell(active: string, content: Node): Node {
  const signOut = h('button', { type: 'button', class: 'link' }, 'Sign out');
  signOut.addEventListener('click', () => {
    session.signOut();
    apps.forget();
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
      appSwitcher(),
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
  if (apps.list() === null) {
    // A signed-in tab reopened (or a sign-in before this version): which apps, and which one to act for.
    try {
      await loadApps();
    } catch (error) {
      // A refused key went back to sign-in (whenKeyRefused); otherwise the pages say what fails.
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return;
    }
    if (ticket !== renderCount || session.key() === null) return;
  }
  const { page, params } = currentRoute();
  const definition = PAGES[page]!;
  const several = (apps.list() ?? []).length > 1;
  document.title = `${definition.title}${several ? ` · ${apps.current()}` : ''} — Entitlements console`;
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
  apps.forget();
  replaceChildren(root, signInView('The service refused the key (it may have been removed): sign in again.'));
});
window.addEventListener('hashchange', () => void render());
void render();
