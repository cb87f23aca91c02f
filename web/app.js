// The Leadstage funnel page: a small single-page app over the JSON API it is served by.
// No build step and no dependencies. Every value from the API goes into the page through
// textContent or attributes (the `el` helper), never as HTML.

/** @typedef {'lead'|'qualified'|'prospect'|'sales_ready'|'disqualified'} Stage */
/** @typedef {{ code: string, message: string }} Reason */
/** @typedef {{ type?: string, title?: string, status?: number, detail?: string }} Problem */
/**
 * @typedef {object} Delivery
 * @property {string} deliveryId
 * @property {string} [subscriptionId]
 * @property {string} contactId
 * @property {string} eventType
 * @property {string} status
 * @property {number} attemptCount
 * @property {{ at: string, statusCode?: number, latencyMs: number, error?: string }} [lastAttempt]
 * @property {string} createdAt
 * @property {string} [deliveredAt]
 */

const KEY_STORAGE = 'leadstage.apiKey';
/** @type {Stage[]} */
const STAGES = ['lead', 'qualified', 'prospect', 'sales_ready', 'disqualified'];
/** @type {Record<string, string>} */
const STAGE_LABELS = {
  lead: 'Lead',
  qualified: 'Qualified',
  prospect: 'Prospect',
  sales_ready: 'Sales-ready',
  disqualified: 'Disqualified',
};
const DELIVERY_STATUSES = ['pending', 'delivered', 'failing', 'exhausted', 'paused', 'cancelled'];
const PERIOD_PRESETS = [7, 30, 90];
const DAY_MS = 86_400_000;
/** Redelivery progress is polled this often, this many times, before the page stops watching. */
const POLL_INTERVAL_MS = 1_000;
const POLL_ATTEMPTS = 60;

// ---------------------------------------------------------------------------------------------
// DOM helpers

/**
 * Creates an element. `props`: `class`, `text`, `on<event>` handlers, `dataset`, booleans
 * (`hidden`, `disabled`...) and any other attribute. Children: nodes or strings (as text).
 * @param {string} tag
 * @param {Record<string, unknown>} [props]
 * @param {...(Node|string|number|null|undefined|false|(Node|string|null|undefined|false)[])} children
 * @returns {HTMLElement}
 */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = String(value);
    else if (name === 'text') node.textContent = String(value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2).toLowerCase(), /** @type {EventListener} */ (value));
    } else if (value === true) node.setAttribute(name, '');
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

/**
 * @param {Node} parent
 * @param {unknown[]} children
 */
function append(parent, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** @param {string} id */
function byId(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`#${id} is missing`);
  return node;
}

/** Says something to screen readers and shows it briefly as a toast. */
let announceTimer = 0;
/** @param {string} message */
function announce(message) {
  const announcer = byId('announcer');
  announcer.textContent = message;
  announcer.classList.add('toast');
  window.clearTimeout(announceTimer);
  announceTimer = window.setTimeout(() => {
    announcer.textContent = '';
    announcer.classList.remove('toast');
  }, 6_000);
}

// ---------------------------------------------------------------------------------------------
// Formatting

const numberFormat = new Intl.NumberFormat(undefined);
const percentFormat = new Intl.NumberFormat(undefined, {
  style: 'percent',
  maximumFractionDigits: 1,
});
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'medium',
  timeStyle: 'short',
});

/** @param {number} n */
const formatNumber = (n) => numberFormat.format(n);

/**
 * A `<time>` for an ISO instant, or a dash.
 * @param {string|null|undefined} iso
 */
function time(iso) {
  if (!iso) return el('span', { class: 'muted', text: '—' });
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return el('span', { text: iso });
  return el('time', { datetime: iso, title: iso, text: dateTimeFormat.format(date) });
}

/**
 * What to call a contact: its name, else first and last name, else its email.
 * @param {{ email: string, name?: string, firstName?: string, lastName?: string }} who
 */
function displayName(who) {
  return who.name ?? ([who.firstName, who.lastName].filter(Boolean).join(' ') || who.email);
}

/** @param {string} stage */
const stageLabel = (stage) => STAGE_LABELS[stage] ?? stage;

/** @param {string|null|undefined} stage */
function stageBadge(stage) {
  if (!stage) return el('span', { class: 'badge badge-none', text: 'new' });
  return el('span', { class: `badge stage-${stage}`, text: stageLabel(stage) });
}

/** The arrow between two stages; read out as "to". */
function arrow() {
  return el(
    'span',
    { class: 'arrow' },
    el('span', { 'aria-hidden': 'true', text: '→' }),
    el('span', { class: 'visually-hidden', text: ' to ' }),
  );
}

/** @param {string} status */
function statusBadge(status) {
  return el('span', { class: `badge status-${status}`, text: status });
}

/** `email_replied` -> `Email replied` @param {string} text */
function humanize(text) {
  const spaced = text
    .replace(/[_.]+/g, ' ')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/** @param {unknown} value */
function plain(value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * A description list of an object's fields (nested objects flattened one level).
 * @param {Record<string, unknown>} object
 * @param {string} [emptyText]
 */
function facts(object, emptyText = 'Nothing recorded.') {
  const entries = Object.entries(object).filter(([, value]) => value !== undefined);
  if (entries.length === 0) return el('p', { class: 'muted', text: emptyText });
  return el(
    'dl',
    { class: 'facts' },
    entries.map(([name, value]) =>
      el('div', {}, el('dt', { text: humanize(name) }), el('dd', { text: plain(value) })),
    ),
  );
}

/** @param {Date} date */
const isoDay = (date) => date.toISOString().slice(0, 10);

// ---------------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  /**
   * @param {number} status
   * @param {Problem} problem
   */
  constructor(status, problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }

  /** The server has no such route: an endpoint this deployment does not have (yet). */
  get routeMissing() {
    return this.status === 404 && (this.problem.detail ?? '').startsWith('No route for');
  }
}

/** Thrown after a 401: the page is back at sign-in, and whatever asked can stop. */
class SignedOut extends Error {}

const apiKey = () => sessionStorage.getItem(KEY_STORAGE);

/**
 * Calls the JSON API with the API key.
 * @param {string} path
 * @param {{ method?: string, body?: unknown }} [options]
 * @returns {Promise<any>}
 */
async function api(path, options = {}) {
  const key = apiKey();
  if (key === null) {
    showSignIn();
    throw new SignedOut();
  }
  /** @type {Record<string, string>} */
  const headers = { authorization: `Bearer ${key}`, accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    cache: 'no-store',
  });
  if (response.status === 401) {
    sessionStorage.removeItem(KEY_STORAGE);
    showSignIn('The API key was not accepted. Sign in again.');
    throw new SignedOut();
  }
  if (response.status === 204) return undefined;
  const text = await response.text();
  /** @type {any} */
  let body;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = { detail: text.slice(0, 200) };
  }
  if (!response.ok) throw new ApiError(response.status, body ?? {});
  return body;
}

/**
 * @param {string} path
 * @param {Record<string, string|number|undefined>} query
 */
function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

// ---------------------------------------------------------------------------------------------
// Shared view parts

/**
 * A panel's content when its data could not be loaded.
 * @param {unknown} error
 * @param {string} what
 */
function failure(error, what) {
  if (error instanceof SignedOut) throw error;
  if (error instanceof ApiError && error.routeMissing) {
    return el(
      'p',
      { class: 'notice notice-unavailable', dataset: { state: 'unavailable' } },
      el('strong', { text: 'Not available. ' }),
      `This server does not offer ${what} yet.`,
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return el(
    'p',
    { class: 'notice notice-error', role: 'alert' },
    el('strong', { text: `Could not load ${what}. ` }),
    message,
  );
}

/**
 * A section with a heading; `body` fills in asynchronously, with a loading text meanwhile.
 * @param {string} title
 * @param {{ id?: string, actions?: Node[], description?: string }} [options]
 */
function section(title, options = {}) {
  const headingId = `${options.id ?? title.toLowerCase().replace(/\W+/g, '-')}-heading`;
  const body = el('div', { class: 'section-body' }, el('p', { class: 'muted', text: 'Loading…' }));
  const node = el(
    'section',
    { class: 'card', id: options.id, 'aria-labelledby': headingId },
    el(
      'div',
      { class: 'card-head' },
      el('h2', { id: headingId, text: title }),
      options.actions ? el('div', { class: 'card-actions' }, options.actions) : null,
    ),
    options.description ? el('p', { class: 'card-description', text: options.description }) : null,
    body,
  );
  return { node, body };
}

/**
 * Replaces a node's children.
 * @param {Element} node
 * @param {...unknown} children
 */
function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

/**
 * Asks before a destructive action, in a modal `<dialog>` (focus trapped, Escape cancels).
 * @param {{ title: string, body: (Node|string)[], confirm: string }} options
 * @returns {Promise<boolean>}
 */
function confirmAction(options) {
  const dialog = /** @type {HTMLDialogElement} */ (byId('confirm'));
  fill(byId('confirm-title'), options.title);
  fill(
    byId('confirm-body'),
    options.body.map((part) => (typeof part === 'string' ? el('p', { text: part }) : part)),
  );
  byId('confirm-ok').textContent = options.confirm;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), {
      once: true,
    });
    dialog.showModal();
    byId('confirm-cancel').focus();
  });
}

/** Rows asked for per page. */
const PAGE_SIZE = 25;

/**
 * The cursor of the next page, if there can be one: a page shorter than asked for is the last
 * (a store may still hand out a cursor that leads to an empty page).
 * @param {{ items: unknown[], nextCursor?: string }} page
 */
function nextCursorOf(page) {
  return page.items.length < PAGE_SIZE ? undefined : page.nextCursor;
}

/**
 * A "Load more" button under a paged list; it disappears on the last page.
 * @param {string|undefined} cursor
 * @param {(cursor: string) => Promise<string|undefined>} loadPage  loads and renders, returns the next cursor
 */
function moreButton(cursor, loadPage) {
  const button = el('button', { type: 'button', class: 'button', text: 'Load more' });
  let next = cursor;
  button.addEventListener('click', async () => {
    if (next === undefined) return;
    button.setAttribute('disabled', '');
    try {
      next = await loadPage(next);
    } catch (error) {
      button.replaceWith(failure(error, 'the next page'));
      return;
    }
    button.removeAttribute('disabled');
    const tableNode = button.parentElement?.querySelector('table');
    if (tableNode) labelCells(tableNode);
    if (next === undefined) button.remove();
  });
  if (next === undefined) button.hidden = true;
  return button;
}

/**
 * A table with a caption (visually hidden when `hideCaption`), headers and body rows. A column
 * given as `{ hidden }` has a header only screen readers see. Cells get their column's name as
 * `data-label`, which narrow screens show beside each value when rows stack.
 * @param {{ caption: string, hideCaption?: boolean, columns: (string|{ hidden: string })[], className?: string }} options
 * @param {Node[]|HTMLElement} rows  the rows, or a `<tbody>` that later pages are added to
 */
function table(options, rows) {
  const tbody = Array.isArray(rows) ? el('tbody', {}, rows) : rows;
  const node = el(
    'table',
    { class: options.className ?? 'data' },
    el('caption', {
      class: options.hideCaption ? 'visually-hidden' : undefined,
      text: options.caption,
    }),
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        options.columns.map((column) =>
          typeof column === 'string'
            ? el('th', { scope: 'col', text: column })
            : el(
                'th',
                { scope: 'col' },
                el('span', { class: 'visually-hidden', text: column.hidden }),
              ),
        ),
      ),
    ),
    tbody,
  );
  labelCells(node);
  return el('div', { class: 'table-wrap' }, node);
}

/**
 * Gives each body cell its column's name as `data-label` (once per cell).
 * @param {Element} tableNode
 */
function labelCells(tableNode) {
  const names = [...tableNode.querySelectorAll('thead th')].map((th) => th.textContent ?? '');
  for (const row of tableNode.querySelectorAll('tbody tr')) {
    [...row.children].forEach((cell, index) => {
      const name = names[index];
      if (name && !(/** @type {HTMLElement} */ (cell).dataset.label)) {
        /** @type {HTMLElement} */ (cell).dataset.label = name;
      }
    });
  }
}

/** @param {Reason[]} reasons */
function reasonList(reasons) {
  if (reasons.length === 0) return el('span', { class: 'muted', text: 'No reasons given.' });
  return el(
    'ul',
    { class: 'reasons' },
    reasons.map((reason) => el('li', { title: reason.code }, reason.message)),
  );
}

/** @param {string[]} missing */
function missingList(missing) {
  if (missing.length === 0) return null;
  return el(
    'p',
    { class: 'missing' },
    el('span', { class: 'missing-label', text: 'Missing: ' }),
    missing.map(humanize).join(', '),
  );
}

/** @param {string} contactId @param {string} text */
const contactLink = (contactId, text) => el('a', { href: `#/contacts/${contactId}`, text });

// ---------------------------------------------------------------------------------------------
// Sign-in

/** @param {string} [message] */
function showSignIn(message) {
  setChrome(false);
  const main = byId('main');
  const input = el('input', {
    id: 'api-key',
    name: 'apiKey',
    type: 'password',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const error = el('p', {
    id: 'sign-in-error',
    class: 'notice notice-error',
    role: 'alert',
    hidden: !message,
    text: message ?? '',
  });
  const form = el(
    'form',
    { class: 'card sign-in', 'aria-labelledby': 'sign-in-title' },
    el('h1', { id: 'sign-in-title', text: 'Sign in' }),
    el(
      'p',
      { class: 'muted' },
      'Enter an API key of this Leadstage. Running locally, ',
      el('code', { text: 'npm start' }),
      ' prints it; on AWS it is one of the keys in the deployment’s secret.',
    ),
    error,
    el('label', { for: 'api-key', text: 'API key' }),
    input,
    el('button', { type: 'submit', class: 'button button-primary', text: 'Sign in' }),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = /** @type {HTMLInputElement} */ (input).value.trim();
    if (key === '') return;
    const response = await fetch('/v1/subscriptions', {
      headers: { authorization: `Bearer ${key}`, accept: 'application/json' },
      cache: 'no-store',
    }).catch(() => undefined);
    if (response === undefined || response.status === 401 || !response.ok) {
      error.hidden = false;
      error.textContent =
        response === undefined
          ? 'The API could not be reached.'
          : response.status === 401
            ? 'This API key was not accepted.'
            : `The API answered ${response.status}.`;
      input.focus();
      return;
    }
    sessionStorage.setItem(KEY_STORAGE, key);
    announce('Signed in.');
    if (location.hash === '' || location.hash === '#/') location.hash = '#/funnel';
    else void render();
  });
  fill(main, form);
  document.title = 'Sign in · Leadstage';
  input.focus();
}

/** @param {boolean} signedIn */
function setChrome(signedIn) {
  byId('nav').hidden = !signedIn;
  byId('find-contact').hidden = !signedIn;
  byId('sign-out').hidden = !signedIn;
}

// ---------------------------------------------------------------------------------------------
// Funnel

/** @param {URLSearchParams} params */
async function funnelView(params) {
  const main = byId('main');
  const from = params.get('from') ?? undefined;
  const to = params.get('to') ?? undefined;
  const stageFilter = params.get('stage') ?? '';

  const periodForm = periodPicker(from ?? defaultPeriod().from, to ?? defaultPeriod().to);
  const summary = el('div', { class: 'kpis', 'aria-live': 'polite' });
  const chart = section('Contacts per stage', {
    id: 'stages',
    description: 'Current contacts in each stage, and how many entered each stage in the period.',
  });
  const conversions = section('Conversion between stages', {
    id: 'conversions',
    description:
      'Of the stage changes in the period that reached a stage, the share that reached the next one or beyond. A lead going straight to prospect counts as reaching qualified too.',
  });
  const changes = section('Recent stage changes', {
    id: 'changes',
    actions: [stageFilterSelect(stageFilter)],
  });

  fill(
    main,
    el('div', { class: 'page-head' }, el('h1', { tabindex: '-1', text: 'Funnel' }), periodForm),
    summary,
    el('div', { class: 'grid-2' }, chart.node, conversions.node),
    changes.node,
  );
  document.title = 'Funnel · Leadstage';

  const funnelLoad = api(withQuery('/v1/funnel', { from, to })).then(
    (funnel) => {
      fillPeriod(periodForm, funnel.period);
      renderKpis(summary, funnel);
      renderStageChart(chart.body, funnel);
      renderConversions(conversions.body, funnel);
    },
    (error) => {
      fill(summary);
      fill(chart.body, failure(error, 'funnel counts'));
      fill(conversions.body, failure(error, 'conversion rates'));
    },
  );
  const changesLoad = loadStageChanges(changes.body, stageFilter);
  await Promise.all([funnelLoad, changesLoad]);
}

/** The API's default period: the last 30 days up to today (UTC). */
function defaultPeriod() {
  const today = new Date();
  return { from: isoDay(new Date(today.getTime() - 29 * DAY_MS)), to: isoDay(today) };
}

/**
 * From/to dates and 7/30/90-day presets; choosing changes the hash, which re-renders.
 * @param {string|undefined} from
 * @param {string|undefined} to
 */
function periodPicker(from, to) {
  const fromInput = el('input', {
    id: 'period-from',
    name: 'from',
    type: 'date',
    value: from,
    required: true,
  });
  const toInput = el('input', {
    id: 'period-to',
    name: 'to',
    type: 'date',
    value: to,
    required: true,
  });
  const go = (/** @type {string} */ fromDay, /** @type {string} */ toDay) => {
    const params = currentParams();
    params.set('from', fromDay);
    params.set('to', toDay);
    location.hash = `#/funnel?${params}`;
  };
  const presets = PERIOD_PRESETS.map((days) =>
    el('button', {
      type: 'button',
      class: 'button preset',
      'aria-pressed': 'false',
      dataset: { days: String(days) },
      text: `${days} days`,
      onclick: () => {
        const today = new Date();
        go(isoDay(new Date(today.getTime() - (days - 1) * DAY_MS)), isoDay(today));
      },
    }),
  );
  const form = el(
    'form',
    { class: 'period', 'aria-label': 'Period' },
    el('div', { class: 'presets', role: 'group', 'aria-label': 'Preset periods' }, presets),
    el('div', { class: 'field' }, el('label', { for: 'period-from', text: 'From' }), fromInput),
    el('div', { class: 'field' }, el('label', { for: 'period-to', text: 'To' }), toInput),
    el('button', { type: 'submit', class: 'button button-primary', text: 'Apply' }),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const fromValue = /** @type {HTMLInputElement} */ (fromInput).value;
    const toValue = /** @type {HTMLInputElement} */ (toInput).value;
    if (fromValue > toValue) {
      announce('The period must start on or before its end.');
      fromInput.focus();
      return;
    }
    go(fromValue, toValue);
  });
  return form;
}

/**
 * Shows the period the server used, and marks the preset it equals.
 * @param {HTMLElement} form
 * @param {{ from: string, to: string }} period
 */
function fillPeriod(form, period) {
  const fromInput = /** @type {HTMLInputElement} */ (form.querySelector('#period-from'));
  const toInput = /** @type {HTMLInputElement} */ (form.querySelector('#period-to'));
  fromInput.value = period.from;
  toInput.value = period.to;
  const days = Math.round((Date.parse(period.to) - Date.parse(period.from)) / DAY_MS) + 1;
  const endsToday = period.to === isoDay(new Date());
  for (const button of form.querySelectorAll('.preset')) {
    const pressed = endsToday && Number(/** @type {HTMLElement} */ (button).dataset.days) === days;
    button.setAttribute('aria-pressed', String(pressed));
  }
}

/**
 * @param {HTMLElement} node
 * @param {any} funnel
 */
function renderKpis(node, funnel) {
  const kpi = (
    /** @type {string} */ label,
    /** @type {number} */ value,
    /** @type {string} */ hint,
    /** @type {string} */ id,
  ) =>
    el(
      'div',
      { class: 'kpi', id, 'data-nonzero': value > 0 },
      el('span', { class: 'kpi-label', text: label }),
      el('span', { class: 'kpi-value', text: formatNumber(value) }),
      el('span', { class: 'kpi-hint', text: hint }),
    );
  fill(
    node,
    kpi('Contacts', funnel.total, 'current, not erased', 'kpi-total'),
    kpi(
      'Not contactable',
      funnel.notContactable,
      'bounced, unsubscribed or no consent',
      'kpi-not-contactable',
    ),
    kpi('Stale', funnel.stale, 'no activity for a long time', 'kpi-stale'),
  );
}

/**
 * Bars for the current contacts per stage: a real table (read by screen readers as one), with
 * the bars drawn beside the numbers and hidden from assistive technology.
 * @param {HTMLElement} node
 * @param {any} funnel
 */
function renderStageChart(node, funnel) {
  const max = Math.max(1, ...STAGES.map((stage) => funnel.stages?.[stage] ?? 0));
  const rows = STAGES.map((stage) => {
    const count = funnel.stages?.[stage] ?? 0;
    const entered = funnel.entered?.[stage] ?? 0;
    const bar = el('span', { class: `bar-fill stage-${stage}` });
    bar.style.width = `${(count / max) * 100}%`;
    return el(
      'tr',
      { dataset: { stage } },
      el(
        'th',
        { scope: 'row' },
        el('a', { href: `#/contacts?stage=${stage}`, text: stageLabel(stage) }),
      ),
      el('td', { class: 'bar-cell' }, el('span', { class: 'bar', 'aria-hidden': 'true' }, bar)),
      el('td', { class: 'num stage-count', text: formatNumber(count) }),
      el('td', { class: 'num stage-entered', text: formatNumber(entered) }),
    );
  });
  fill(
    node,
    table(
      {
        caption: `Contacts per stage; entered from ${funnel.period.from} to ${funnel.period.to}`,
        hideCaption: true,
        columns: ['Stage', { hidden: 'Bar' }, 'Now', 'Entered'],
        className: 'data stage-chart',
      },
      rows,
    ),
  );
}

/**
 * @param {HTMLElement} node
 * @param {any} funnel
 */
function renderConversions(node, funnel) {
  /** @type {{ from: string, to: string, rate: number|null }[]} */
  const conversions = funnel.conversions ?? [];
  if (conversions.length === 0) {
    fill(node, el('p', { class: 'muted', text: 'No conversions to show.' }));
    return;
  }
  fill(
    node,
    el(
      'ol',
      { class: 'conversions' },
      conversions.map((conversion) => {
        // Reached counts, not entered ones: a stage skipped on the way still counts as passed.
        const reached = funnel.reached?.[conversion.from] ?? 0;
        const next = funnel.reached?.[conversion.to] ?? 0;
        const meter = el('span', { class: 'meter-fill' });
        meter.style.width = `${Math.min(1, conversion.rate ?? 0) * 100}%`;
        return el(
          'li',
          { class: 'conversion', dataset: { from: conversion.from, to: conversion.to } },
          el(
            'span',
            { class: 'conversion-stages' },
            stageBadge(conversion.from),
            arrow(),
            stageBadge(conversion.to),
          ),
          el(
            'span',
            { class: 'conversion-rate' },
            conversion.rate === null ? '—' : percentFormat.format(conversion.rate),
          ),
          el('span', { class: 'meter', 'aria-hidden': 'true' }, meter),
          el(
            'span',
            { class: 'conversion-detail muted' },
            conversion.rate === null
              ? `none reached ${stageLabel(conversion.from)} in the period`
              : `${formatNumber(next)} of ${formatNumber(reached)} reached ${stageLabel(conversion.to)} or beyond`,
          ),
        );
      }),
    ),
  );
}

/** @param {string} selected */
function stageFilterSelect(selected) {
  const select = el(
    'select',
    { id: 'changes-stage', name: 'stage' },
    el('option', { value: '', text: 'All stages' }),
    STAGES.map((stage) =>
      el('option', { value: stage, selected: stage === selected, text: stageLabel(stage) }),
    ),
  );
  select.addEventListener('change', () => {
    const params = currentParams();
    const value = /** @type {HTMLSelectElement} */ (select).value;
    if (value === '') params.delete('stage');
    else params.set('stage', value);
    const query = params.toString();
    location.hash = `#/funnel${query ? `?${query}` : ''}`;
  });
  return el(
    'div',
    { class: 'field field-inline' },
    el('label', { for: 'changes-stage', text: 'Changed to' }),
    select,
  );
}

/**
 * @param {HTMLElement} node
 * @param {string} stage
 */
async function loadStageChanges(node, stage) {
  const tbody = el('tbody');
  const loadPage = async (/** @type {string|undefined} */ cursor) => {
    const page = await api(withQuery('/v1/stage-changes', { stage, limit: PAGE_SIZE, cursor }));
    for (const change of page.items) tbody.appendChild(stageChangeRow(change));
    return nextCursorOf(page);
  };
  try {
    const next = await loadPage(undefined);
    if (tbody.childElementCount === 0) {
      fill(
        node,
        el('p', {
          class: 'muted',
          text: stage ? `No changes to ${stageLabel(stage)} yet.` : 'No stage changes yet.',
        }),
      );
      return;
    }
    fill(
      node,
      table(
        {
          caption: 'Recent stage changes, newest first',
          hideCaption: true,
          columns: ['When', 'Contact', 'Change', 'Why'],
          className: 'data changes',
        },
        tbody,
      ),
      moreButton(next, loadPage),
    );
  } catch (error) {
    fill(node, failure(error, 'recent stage changes'));
  }
}

/** @param {any} change */
function stageChangeRow(change) {
  const who = displayName(change);
  return el(
    'tr',
    {},
    el('td', { class: 'nowrap' }, time(change.at)),
    el(
      'td',
      {},
      contactLink(change.contactId, who),
      change.company ? el('div', { class: 'muted small', text: change.company }) : null,
      who !== change.email ? el('div', { class: 'muted small', text: change.email }) : null,
    ),
    el('td', { class: 'nowrap' }, stageBadge(change.from), arrow(), stageBadge(change.to)),
    el('td', {}, reasonList(change.reasons ?? []), missingList(change.missing ?? [])),
  );
}

// ---------------------------------------------------------------------------------------------
// Contacts

/** @param {URLSearchParams} params */
async function contactListView(params) {
  const main = byId('main');
  const stage = params.get('stage') ?? '';
  const email = params.get('email') ?? '';
  const title = email ? `Contacts matching ${email}` : `${stageLabel(stage || 'lead')} contacts`;
  const list = section(email ? 'Search result' : 'Newest first', { id: 'contact-list' });
  fill(
    main,
    el('p', { class: 'crumbs' }, el('a', { href: '#/funnel', text: '← Funnel' })),
    el('div', { class: 'page-head' }, el('h1', { tabindex: '-1', text: title })),
    list.node,
  );
  document.title = `${title} · Leadstage`;
  const tbody = el('tbody');
  const loadPage = async (/** @type {string|undefined} */ cursor) => {
    const page = await api(
      withQuery(
        '/v1/contacts',
        email ? { email } : { stage: stage || 'lead', limit: PAGE_SIZE, cursor },
      ),
    );
    for (const contact of page.items) {
      tbody.appendChild(
        el(
          'tr',
          {},
          el(
            'td',
            {},
            contactLink(contact.id, displayName(contact)),
            displayName(contact) !== contact.email
              ? el('div', { class: 'muted small', text: contact.email })
              : null,
          ),
          el('td', { text: contact.company ?? '—' }),
          el('td', {}, stageBadge(contact.stage)),
          el('td', {}, time(contact.stageChangedAt)),
          el('td', {}, flagBadges(contact.flags)),
        ),
      );
    }
    return nextCursorOf(page);
  };
  try {
    const next = await loadPage(undefined);
    if (tbody.childElementCount === 0) {
      fill(
        list.body,
        el('p', {
          class: 'muted',
          text: email ? 'No contact has this email.' : 'No contacts in this stage.',
        }),
      );
      return;
    }
    if (email && tbody.childElementCount === 1) {
      const link = tbody.querySelector('a');
      if (link) location.replace(/** @type {HTMLAnchorElement} */ (link).href);
      return;
    }
    fill(
      list.body,
      table(
        {
          caption: title,
          hideCaption: true,
          columns: ['Contact', 'Company', 'Stage', 'Since', 'Flags'],
          className: 'data',
        },
        tbody,
      ),
      moreButton(next, loadPage),
    );
  } catch (error) {
    fill(list.body, failure(error, 'contacts'));
  }
}

/** @param {{ contactable: boolean, stale: boolean, cadenceExceeded: boolean }|undefined} flags */
function flagBadges(flags) {
  if (!flags) return null;
  const badges = [];
  if (!flags.contactable)
    badges.push(el('span', { class: 'badge flag-warn', text: 'not contactable' }));
  if (flags.stale) badges.push(el('span', { class: 'badge flag-muted', text: 'stale' }));
  if (flags.cadenceExceeded)
    badges.push(el('span', { class: 'badge flag-warn', text: 'cadence exceeded' }));
  if (badges.length === 0) badges.push(el('span', { class: 'badge flag-ok', text: 'contactable' }));
  return el('span', { class: 'badges' }, badges);
}

/** @param {string} id */
async function contactView(id) {
  const main = byId('main');
  fill(main, el('p', { class: 'muted', text: 'Loading contact…' }));
  /** @type {any} */
  let contact;
  try {
    contact = await api(`/v1/contacts/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      fill(
        main,
        el('p', { class: 'crumbs' }, el('a', { href: '#/funnel', text: '← Funnel' })),
        el('h1', { tabindex: '-1', text: 'Contact not found' }),
        el('p', { text: 'There is no contact with this id, or it was erased.' }),
      );
      return;
    }
    fill(main, failure(error, 'the contact'));
    return;
  }
  const profile = contact.profile ?? {};
  const name =
    profile.name ??
    ([profile.firstName, profile.lastName].filter(Boolean).join(' ') || contact.email);
  document.title = `${name} · Leadstage`;

  const eraseButton = el('button', {
    type: 'button',
    class: 'button button-danger',
    id: 'erase',
    text: 'Erase contact…',
  });
  eraseButton.addEventListener('click', () => eraseContact(contact));

  const stageCard = el(
    'section',
    { class: 'card', id: 'stage', 'aria-labelledby': 'stage-heading' },
    el('div', { class: 'card-head' }, el('h2', { id: 'stage-heading', text: 'Stage' })),
    el(
      'p',
      { class: 'stage-line' },
      stageBadge(contact.stage),
      el('span', { class: 'muted' }, ' since ', time(contact.stageChangedAt)),
    ),
    el('h3', { text: 'Why' }),
    reasonList(contact.reasons ?? []),
    el('h3', { text: 'Missing data' }),
    (contact.missing ?? []).length === 0
      ? el('p', { class: 'muted', text: 'Nothing missing.' })
      : el(
          'ul',
          { class: 'missing-list' },
          contact.missing.map((/** @type {string} */ item) => el('li', { text: humanize(item) })),
        ),
    el('h3', { text: 'Status' }),
    flagBadges(contact.flags),
    facts({
      qualification: contact.qualification,
      hubspotLifecycleStage: contact.crm?.hubspot?.lifecycleStage,
      hubspotLeadStatus: contact.crm?.hubspot?.leadStatus,
      salesforceLeadStatus: contact.crm?.salesforce?.leadStatus,
    }),
  );

  const factsData = contact.facts ?? {};
  const factsCard = el(
    'section',
    { class: 'card', id: 'facts', 'aria-labelledby': 'facts-heading' },
    el('div', { class: 'card-head' }, el('h2', { id: 'facts-heading', text: 'Facts' })),
    el(
      'dl',
      { class: 'facts' },
      el('div', {}, el('dt', { text: 'First seen' }), el('dd', {}, time(factsData.firstSeenAt))),
      el('div', {}, el('dt', { text: 'Last seen' }), el('dd', {}, time(factsData.lastSeenAt))),
      factsData.replyMatch
        ? el(
            'div',
            {},
            el('dt', { text: 'Reply matched by' }),
            el('dd', { text: humanize(factsData.replyMatch) }),
          )
        : null,
    ),
    el('h3', { text: 'Activity counts' }),
    facts(factsData.counts ?? {}, 'No activity counted.'),
    factsData.consent ? [el('h3', { text: 'Consent' }), facts(factsData.consent)] : null,
    factsData.attribution
      ? [
          el('h3', { text: 'Attribution' }),
          facts({ first: factsData.attribution.first, last: factsData.attribution.last }),
        ]
      : null,
  );

  const profileCard = el(
    'section',
    { class: 'card', id: 'profile', 'aria-labelledby': 'profile-heading' },
    el('div', { class: 'card-head' }, el('h2', { id: 'profile-heading', text: 'Profile' })),
    facts({ email: contact.email, ...profile }),
  );

  const timeline = section('Timeline', {
    id: 'timeline',
    description: 'Everything that happened to this contact, newest first.',
  });
  const history = section('Stage history', {
    id: 'stage-history',
    description: 'Every stage change, oldest first.',
  });
  const deliveries = section('Deliveries', {
    id: 'deliveries',
    description: 'The webhooks sent to subscribers about this contact, newest first.',
  });

  fill(
    main,
    el('p', { class: 'crumbs' }, el('a', { href: '#/funnel', text: '← Funnel' })),
    el(
      'div',
      { class: 'page-head' },
      el(
        'div',
        {},
        el('h1', { tabindex: '-1', text: name }),
        el(
          'p',
          { class: 'subtitle' },
          profile.company ? `${profile.company} · ` : '',
          contact.email,
          ' ',
          stageBadge(contact.stage),
        ),
      ),
      eraseButton,
    ),
    el('div', { class: 'grid-3' }, stageCard, profileCard, factsCard),
    timeline.node,
    history.node,
    deliveries.node,
  );

  await Promise.all([
    loadTimeline(timeline.body, contact.id),
    loadStageHistory(history.body, contact.id),
    loadDeliveries(deliveries.body, `/v1/contacts/${encodeURIComponent(contact.id)}/deliveries`, {
      showContact: false,
      emptyText: 'No deliveries about this contact.',
    }),
  ]);
}

/**
 * @param {HTMLElement} node
 * @param {string} contactId
 */
async function loadTimeline(node, contactId) {
  const list = el('ol', { class: 'timeline' });
  const loadPage = async (/** @type {string|undefined} */ cursor) => {
    const page = await api(
      withQuery(`/v1/contacts/${encodeURIComponent(contactId)}/timeline`, {
        limit: PAGE_SIZE,
        cursor,
      }),
    );
    for (const entry of page.items) {
      const details = Object.fromEntries(
        Object.entries(entry.details ?? {}).filter(
          ([, value]) => value !== undefined && value !== null,
        ),
      );
      list.appendChild(
        el(
          'li',
          { class: 'timeline-entry', dataset: { kind: entry.kind } },
          el(
            'div',
            { class: 'timeline-head' },
            el('strong', { text: humanize(entry.kind) }),
            el(
              'span',
              { class: 'muted small' },
              ' via ',
              entry.source,
              ' · ',
              time(entry.occurredAt),
            ),
          ),
          Object.keys(details).length > 0 ? facts(details) : null,
        ),
      );
    }
    return nextCursorOf(page);
  };
  try {
    const next = await loadPage(undefined);
    if (list.childElementCount === 0) fill(node, el('p', { class: 'muted', text: 'No events.' }));
    else fill(node, list, moreButton(next, loadPage));
  } catch (error) {
    fill(node, failure(error, 'the timeline'));
  }
}

/**
 * @param {HTMLElement} node
 * @param {string} contactId
 */
async function loadStageHistory(node, contactId) {
  const tbody = el('tbody');
  const loadPage = async (/** @type {string|undefined} */ cursor) => {
    const page = await api(
      withQuery(`/v1/contacts/${encodeURIComponent(contactId)}/stage-history`, {
        limit: PAGE_SIZE,
        cursor,
      }),
    );
    for (const change of page.items) {
      tbody.appendChild(
        el(
          'tr',
          {},
          el('td', { class: 'num', text: String(change.sequence) }),
          el('td', { class: 'nowrap' }, time(change.at)),
          el('td', { class: 'nowrap' }, stageBadge(change.from), arrow(), stageBadge(change.to)),
          el('td', { text: humanize(change.direction) }),
          el('td', {}, reasonList(change.reasons ?? []), missingList(change.missing ?? [])),
        ),
      );
    }
    return nextCursorOf(page);
  };
  try {
    const next = await loadPage(undefined);
    if (tbody.childElementCount === 0) {
      fill(node, el('p', { class: 'muted', text: 'No stage changes.' }));
      return;
    }
    fill(
      node,
      table(
        {
          caption: 'Stage history',
          hideCaption: true,
          columns: ['#', 'When', 'Change', 'Direction', 'Why'],
          className: 'data',
        },
        tbody,
      ),
      moreButton(next, loadPage),
    );
  } catch (error) {
    fill(node, failure(error, 'the stage history'));
  }
}

/** @param {any} contact */
async function eraseContact(contact) {
  const confirmed = await confirmAction({
    title: 'Erase this contact?',
    body: [
      el(
        'p',
        {},
        'This erases ',
        el('strong', { text: contact.email }),
        ' for good: profile, facts, timeline, stage history and deliveries.',
      ),
      el(
        'p',
        {},
        'Subscribers are sent ',
        el('code', { text: 'contact.erased' }),
        '. This cannot be undone.',
      ),
    ],
    confirm: 'Erase contact',
  });
  if (!confirmed) {
    byId('erase').focus();
    return;
  }
  try {
    await api(`/v1/contacts/${encodeURIComponent(contact.id)}`, { method: 'DELETE' });
  } catch (error) {
    if (error instanceof SignedOut) return;
    announce(
      `The contact could not be erased: ${error instanceof Error ? error.message : String(error)}`,
    );
    return;
  }
  announce('The contact was erased.');
  location.hash = '#/funnel';
}

// ---------------------------------------------------------------------------------------------
// Deliveries (a contact's, a subscription's)

/**
 * Loads a paged list of deliveries into a table with a Redeliver button per row.
 * @param {HTMLElement} node
 * @param {string} path
 * @param {{ showContact: boolean, subscriptionId?: string, emptyText: string, status?: string }} options
 */
async function loadDeliveries(node, path, options) {
  const tbody = el('tbody');
  const loadPage = async (/** @type {string|undefined} */ cursor) => {
    const page = await api(withQuery(path, { limit: PAGE_SIZE, cursor, status: options.status }));
    for (const delivery of page.items) {
      tbody.appendChild(
        deliveryRow(
          delivery,
          options.subscriptionId ?? delivery.subscriptionId,
          options.showContact,
        ),
      );
    }
    return nextCursorOf(page);
  };
  try {
    const next = await loadPage(undefined);
    if (tbody.childElementCount === 0) {
      fill(node, el('p', { class: 'muted', text: options.emptyText }));
      return;
    }
    const columns = [
      'Created',
      'Event',
      options.showContact ? 'Contact' : 'Subscription',
      'Status',
      'Attempts',
      'Last attempt',
      { hidden: 'Actions' },
    ];
    fill(
      node,
      table(
        {
          caption: 'Deliveries',
          hideCaption: true,
          columns: columns,
          className: 'data deliveries',
        },
        tbody,
      ),
      moreButton(next, loadPage),
    );
  } catch (error) {
    fill(node, failure(error, 'deliveries'));
  }
}

/** @param {Delivery['lastAttempt']} attempt */
function attemptText(attempt) {
  if (!attempt) return el('span', { class: 'muted', text: '—' });
  const outcome =
    attempt.statusCode !== undefined
      ? `HTTP ${attempt.statusCode}`
      : (attempt.error ?? 'no answer');
  return el(
    'span',
    {},
    el('span', { class: 'attempt-outcome', text: outcome }),
    el('span', { class: 'muted small' }, ' · ', time(attempt.at)),
    attempt.statusCode !== undefined && attempt.error
      ? el('div', { class: 'muted small', text: attempt.error })
      : null,
  );
}

/**
 * @param {Delivery} delivery
 * @param {string|undefined} subscriptionId
 * @param {boolean} showContact
 */
function deliveryRow(delivery, subscriptionId, showContact) {
  const statusCell = el('td', { class: 'delivery-status' }, statusBadge(delivery.status));
  const attemptsCell = el('td', { class: 'num', text: String(delivery.attemptCount) });
  const lastCell = el('td', {}, attemptText(delivery.lastAttempt));
  const actionCell = el('td', { class: 'actions' });
  if (subscriptionId !== undefined) {
    const button = el('button', {
      type: 'button',
      class: 'button button-small',
      text: 'Redeliver',
      'aria-label': `Redeliver ${humanize(delivery.eventType)} of ${delivery.createdAt}`,
    });
    button.addEventListener('click', () =>
      redeliver(button, subscriptionId, delivery.deliveryId, {
        statusCell,
        attemptsCell,
        lastCell,
      }),
    );
    actionCell.appendChild(button);
  }
  return el(
    'tr',
    { dataset: { deliveryId: delivery.deliveryId, status: delivery.status } },
    el('td', { class: 'nowrap' }, time(delivery.createdAt)),
    el('td', { text: humanize(delivery.eventType) }),
    showContact
      ? el('td', {}, contactLink(delivery.contactId, delivery.contactId))
      : el(
          'td',
          {},
          subscriptionId
            ? el('a', {
                href: `#/subscriptions/${subscriptionId}`,
                class: 'mono',
                text: subscriptionId,
              })
            : '—',
        ),
    statusCell,
    attemptsCell,
    lastCell,
    actionCell,
  );
}

/**
 * Queues a delivery again, then watches it until it leaves `pending` (or the page moves on).
 * @param {HTMLElement} button
 * @param {string} subscriptionId
 * @param {string} deliveryId
 * @param {{ statusCell: HTMLElement, attemptsCell: HTMLElement, lastCell: HTMLElement }} cells
 */
async function redeliver(button, subscriptionId, deliveryId, cells) {
  const base = `/v1/subscriptions/${encodeURIComponent(subscriptionId)}/deliveries/${encodeURIComponent(deliveryId)}`;
  button.setAttribute('disabled', '');
  const row = /** @type {HTMLElement} */ (button.closest('tr'));
  const show = (/** @type {Delivery} */ delivery) => {
    fill(cells.statusCell, statusBadge(delivery.status));
    cells.attemptsCell.textContent = String(delivery.attemptCount);
    fill(cells.lastCell, attemptText(delivery.lastAttempt));
    row.dataset.status = delivery.status;
  };
  try {
    await api(`${base}/redeliver`, { method: 'POST' });
  } catch (error) {
    button.removeAttribute('disabled');
    if (!(error instanceof SignedOut))
      announce(`Redelivery failed: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  fill(cells.statusCell, statusBadge('pending'));
  row.dataset.status = 'pending';
  announce('Queued for redelivery.');
  for (let i = 0; i < POLL_ATTEMPTS && row.isConnected; i++) {
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    /** @type {Delivery} */
    let delivery;
    try {
      delivery = await api(base);
    } catch {
      break;
    }
    if (delivery.status !== 'pending') {
      show(delivery);
      announce(`Redelivery: ${delivery.status}.`);
      break;
    }
  }
  button.removeAttribute('disabled');
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

async function subscriptionsView() {
  const main = byId('main');
  const list = el('div', { class: 'stack' }, el('p', { class: 'muted', text: 'Loading…' }));
  fill(
    main,
    el('div', { class: 'page-head' }, el('h1', { tabindex: '-1', text: 'Subscriptions' })),
    el('p', {
      class: 'lede',
      text: 'Where stage changes are sent, and how delivery to each endpoint is going.',
    }),
    list,
  );
  document.title = 'Subscriptions · Leadstage';
  try {
    const { items } = await api('/v1/subscriptions');
    if (items.length === 0) {
      fill(
        list,
        el('p', {
          class: 'card muted',
          text: 'No subscriptions yet. Create one with POST /v1/subscriptions (see /docs).',
        }),
      );
      return;
    }
    fill(list, items.map(subscriptionCard));
  } catch (error) {
    fill(list, failure(error, 'subscriptions'));
  }
}

/** @param {any} subscription */
function subscriptionHealth(subscription) {
  if (!subscription.enabled)
    return el('span', {
      class: 'badge status-exhausted',
      text: `disabled${subscription.disabledReason ? `: ${subscription.disabledReason}` : ''}`,
    });
  if (subscription.failingSince)
    return el('span', { class: 'badge status-failing', text: 'failing' });
  return el('span', { class: 'badge status-delivered', text: 'healthy' });
}

/** @param {any} subscription */
function subscriptionCard(subscription) {
  const headingId = `sub-${subscription.id}`;
  const counts = el('dl', { class: 'counts' });
  const card = el(
    'section',
    {
      class: 'card subscription',
      'aria-labelledby': headingId,
      dataset: { subscriptionId: subscription.id },
    },
    el(
      'div',
      { class: 'card-head' },
      el('h2', { id: headingId, class: 'mono url', text: subscription.url }),
      subscriptionHealth(subscription),
    ),
    subscription.description
      ? el('p', { class: 'card-description', text: subscription.description })
      : null,
    el(
      'dl',
      { class: 'facts facts-inline' },
      el(
        'div',
        {},
        el('dt', { text: 'Last success' }),
        el('dd', {}, time(subscription.lastSuccessAt)),
      ),
      el(
        'div',
        {},
        el('dt', { text: 'Failing since' }),
        el('dd', {}, time(subscription.failingSince)),
      ),
      el(
        'div',
        {},
        el('dt', { text: 'Sends' }),
        el('dd', {
          text: subscription.eventTypes ? subscription.eventTypes.join(', ') : 'every event type',
        }),
      ),
      el(
        'div',
        {},
        el('dt', { text: 'Stages' }),
        el('dd', {
          text: subscription.stages
            ? subscription.stages.map(stageLabel).join(', ')
            : 'every stage',
        }),
      ),
    ),
    counts,
    el(
      'p',
      {},
      el(
        'a',
        { class: 'button', href: `#/subscriptions/${subscription.id}`, text: 'Deliveries' },
        el('span', { class: 'visually-hidden', text: ` of ${subscription.url}` }),
      ),
    ),
  );
  void loadDeliveryCounts(counts, subscription.id);
  return card;
}

/**
 * How many deliveries wait, fail or gave up: one page of each status, so "100+" past a page.
 * @param {HTMLElement} node
 * @param {string} subscriptionId
 */
async function loadDeliveryCounts(node, subscriptionId) {
  const statuses = ['pending', 'failing', 'exhausted', 'paused'];
  try {
    const pages = await Promise.all(
      statuses.map((status) =>
        api(
          withQuery(`/v1/subscriptions/${encodeURIComponent(subscriptionId)}/deliveries`, {
            status,
            limit: 100,
          }),
        ),
      ),
    );
    fill(
      node,
      statuses.map((status, index) => {
        const page = pages[index];
        const count = `${page.items.length}${page.nextCursor ? '+' : ''}`;
        return el(
          'div',
          {
            class: `count count-${status}`,
            dataset: { status },
            'data-nonzero': page.items.length > 0,
          },
          el(
            'dt',
            {},
            el('a', {
              href: `#/subscriptions/${subscriptionId}?status=${status}`,
              text: humanize(status),
            }),
          ),
          el('dd', { text: count }),
        );
      }),
    );
  } catch (error) {
    fill(node, failure(error, 'delivery counts'));
  }
}

/**
 * @param {string} id
 * @param {URLSearchParams} params
 */
async function subscriptionView(id, params) {
  const main = byId('main');
  const status = params.get('status') ?? '';
  const select = el(
    'select',
    { id: 'delivery-status', name: 'status' },
    el('option', { value: '', text: 'Every status' }),
    DELIVERY_STATUSES.map((value) =>
      el('option', { value, selected: value === status, text: humanize(value) }),
    ),
  );
  select.addEventListener('change', () => {
    const value = /** @type {HTMLSelectElement} */ (select).value;
    location.hash = `#/subscriptions/${id}${value ? `?status=${value}` : ''}`;
  });
  const head = el(
    'div',
    { class: 'page-head' },
    el('h1', { tabindex: '-1', class: 'mono url', text: id }),
  );
  const deliveries = section('Deliveries', {
    id: 'deliveries',
    description: 'Newest first. Redeliver sends one again with the same webhook-id.',
    actions: [
      el(
        'div',
        { class: 'field field-inline' },
        el('label', { for: 'delivery-status', text: 'Status' }),
        select,
      ),
    ],
  });
  fill(
    main,
    el('p', { class: 'crumbs' }, el('a', { href: '#/subscriptions', text: '← Subscriptions' })),
    head,
    deliveries.node,
  );
  document.title = 'Subscription · Leadstage';
  try {
    const subscription = await api(`/v1/subscriptions/${encodeURIComponent(id)}`);
    fill(
      head,
      el(
        'div',
        {},
        el('h1', { tabindex: '-1', class: 'mono url', text: subscription.url }),
        el(
          'p',
          { class: 'subtitle' },
          el('span', { class: 'mono', text: subscription.id }),
          ' ',
          subscriptionHealth(subscription),
        ),
      ),
    );
  } catch (error) {
    if (error instanceof SignedOut) return;
  }
  await loadDeliveries(deliveries.body, `/v1/subscriptions/${encodeURIComponent(id)}/deliveries`, {
    showContact: true,
    subscriptionId: id,
    status: status || undefined,
    emptyText: status ? `No ${status} deliveries.` : 'No deliveries yet.',
  });
}

// ---------------------------------------------------------------------------------------------
// Dead letters

/** @type {Record<string, string>} */
const QUEUE_DESCRIPTIONS = {
  ingest:
    'Events that could not be classified after every retry. Redrive sends them back to the ingest queue.',
  delivery: 'Webhook deliveries that gave up. Redrive sends them back to the delivery queue.',
};

async function deadLettersView() {
  const main = byId('main');
  const queues = el('div', { class: 'stack' }, el('p', { class: 'muted', text: 'Loading…' }));
  fill(
    main,
    el('div', { class: 'page-head' }, el('h1', { tabindex: '-1', text: 'Dead-letter queues' })),
    el('p', {
      class: 'lede',
      text: 'Messages the workers parked after failing on them, and why. They stay here until redriven.',
    }),
    queues,
  );
  document.title = 'Dead letters · Leadstage';
  try {
    const overview = await api('/v1/dead-letters');
    fill(
      queues,
      overview.queues.map((/** @type {{ name: string, approximateCount: number }} */ queue) =>
        deadLetterQueue(queue),
      ),
    );
  } catch (error) {
    fill(queues, failure(error, 'the dead-letter queues'));
  }
}

/** @param {{ name: string, approximateCount: number }} queue */
function deadLetterQueue(queue) {
  const redriveAll = el('button', {
    type: 'button',
    class: 'button',
    text: 'Redrive all',
    dataset: { queue: queue.name },
  });
  const body = section(`${humanize(queue.name)} queue`, {
    id: `dlq-${queue.name}`,
    description: QUEUE_DESCRIPTIONS[queue.name],
    actions: [
      el('span', { class: 'badge count-badge', text: `≈ ${formatNumber(queue.approximateCount)}` }),
      redriveAll,
    ],
  });
  redriveAll.addEventListener('click', () => redrive(queue.name, undefined, redriveAll));
  void loadDeadLetters(body.body, queue.name, redriveAll);
  return body.node;
}

/**
 * @param {HTMLElement} node
 * @param {string} queue
 * @param {HTMLElement} redriveAll  disabled while there is nothing to redrive
 */
async function loadDeadLetters(node, queue, redriveAll) {
  try {
    const { items } = await api(`/v1/dead-letters/${encodeURIComponent(queue)}?limit=50`);
    if (items.length === 0) {
      redriveAll.setAttribute('disabled', '');
      fill(node, el('p', { class: 'muted', text: 'Empty.' }));
      return;
    }
    fill(
      node,
      table(
        {
          caption: `Messages in the ${queue} dead-letter queue`,
          hideCaption: true,
          columns: ['Sent', 'Reason', 'About', 'Receives', ''],
        },
        items.map((/** @type {any} */ item) => {
          const button = el('button', {
            type: 'button',
            class: 'button button-small',
            text: 'Redrive',
            'aria-label': `Redrive message ${item.messageId}`,
          });
          button.addEventListener('click', () => redrive(queue, [item.messageId], button));
          return el(
            'tr',
            { dataset: { messageId: item.messageId } },
            el('td', { class: 'nowrap' }, time(item.sentAt)),
            el('td', { class: 'reason', text: item.reason }),
            el(
              'td',
              {},
              facts(item.summary ?? {}, '—'),
              el('div', { class: 'muted small mono', text: item.messageId }),
            ),
            el('td', { class: 'num', text: String(item.receiveCount) }),
            el('td', { class: 'actions' }, button),
          );
        }),
      ),
    );
  } catch (error) {
    fill(node, failure(error, `the ${queue} dead letters`));
  }
}

/**
 * @param {string} queue
 * @param {string[]|undefined} messageIds  all when undefined
 * @param {HTMLElement} button
 */
async function redrive(queue, messageIds, button) {
  const confirmed = await confirmAction({
    title: messageIds ? 'Redrive this message?' : `Redrive the ${queue} queue?`,
    body: [
      messageIds
        ? `The message goes back to the ${queue} queue and is processed again.`
        : `Every message in the ${queue} dead-letter queue goes back to the ${queue} queue and is processed again.`,
      'Processing is idempotent, so a message that already went through does no harm.',
    ],
    confirm: 'Redrive',
  });
  if (!confirmed) {
    button.focus();
    return;
  }
  try {
    const result = await api(`/v1/dead-letters/${encodeURIComponent(queue)}/redrive`, {
      method: 'POST',
      body: messageIds ? { messageIds } : {},
    });
    announce(redriveMessage(queue, result));
  } catch (error) {
    if (error instanceof SignedOut) return;
    announce(`Redrive failed: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  await deadLettersView();
  // The button that had the focus is gone with the old list: the queue's heading takes it.
  focusHeading(`dlq-${queue}-heading`);
}

/**
 * What a redrive did, as the CLI says it (lib/cli/dlq.ts): how many went back, whether one
 * call stopped at its limit, and the messages asked for that were not there.
 * @param {string} queue
 * @param {{ redriven: number, capped?: boolean, notFound?: string[] }} result
 */
function redriveMessage(queue, result) {
  const parts = [
    `${formatNumber(result.redriven)} message${result.redriven === 1 ? '' : 's'} sent back to the ${queue} queue.`,
  ];
  if (result.capped) parts.push('More remain: run it again.');
  const missing = result.notFound ?? [];
  if (missing.length > 0) {
    parts.push(
      `Not in the ${queue} dead-letter queue (already redriven, or never there): ${missing.join(', ')}.`,
    );
  }
  return parts.join(' ');
}

/**
 * Focuses a heading (made focusable by script only), so keyboard and screen-reader users
 * are not left on <body> when the control they used was replaced.
 * @param {string} id
 */
function focusHeading(id) {
  const heading = document.getElementById(id);
  if (heading === null) return;
  heading.setAttribute('tabindex', '-1');
  heading.focus();
}

// ---------------------------------------------------------------------------------------------
// Routing

function currentParams() {
  const hash = location.hash;
  const index = hash.indexOf('?');
  return new URLSearchParams(index === -1 ? '' : hash.slice(index + 1));
}

/** Which nav entry a path belongs to. @param {string} path */
function navSection(path) {
  const first = path.split('/')[1] ?? '';
  return first === 'contacts' ? 'funnel' : first;
}

let renderCount = 0;

async function render() {
  if (apiKey() === null) {
    showSignIn();
    return;
  }
  setChrome(true);
  const hash = location.hash.replace(/^#/, '');
  const [path = ''] = hash.split('?');
  const params = currentParams();
  const current = navSection(path);
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (/** @type {HTMLElement} */ (link).dataset.nav === current)
      link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const ticket = ++renderCount;
  const contact = /^\/contacts\/(ct_[0-9a-f]{24})$/.exec(path);
  const subscription = /^\/subscriptions\/([A-Za-z0-9_-]{1,64})$/.exec(path);
  try {
    if (path === '/funnel') await withFocus(ticket, funnelView(params));
    else if (path === '/contacts') await withFocus(ticket, contactListView(params));
    else if (contact) await withFocus(ticket, contactView(/** @type {string} */ (contact[1])));
    else if (path === '/subscriptions') await withFocus(ticket, subscriptionsView());
    else if (subscription)
      await withFocus(ticket, subscriptionView(/** @type {string} */ (subscription[1]), params));
    else if (path === '/dead-letters') await withFocus(ticket, deadLettersView());
    else location.replace('#/funnel');
  } catch (error) {
    if (!(error instanceof SignedOut)) throw error;
  }
}

/**
 * Moves focus to the new view's heading, so keyboard and screen-reader users start there.
 * @param {number} ticket  which render this is; a later one wins
 * @param {Promise<void>} view
 */
async function withFocus(ticket, view) {
  // Views draw their frame (with the heading) before their first request, so it is there now.
  if (navigated && ticket === renderCount) {
    const heading = byId('main').querySelector('h1');
    /** @type {HTMLElement} */ (heading ?? byId('main')).focus();
  }
  await view;
}

/** Only a navigation moves focus, not the first load. */
let navigated = false;

window.addEventListener('hashchange', () => {
  navigated = true;
  void render();
});

// The skip link moves focus itself: following `#main` would change the hash, which routes.
document.querySelector('.skip-link')?.addEventListener('click', (event) => {
  event.preventDefault();
  byId('main').focus();
});

byId('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(KEY_STORAGE);
  announce('Signed out.');
  showSignIn();
});

byId('find-contact').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId('find-email'));
  const email = input.value.trim();
  if (email === '') return;
  input.value = '';
  location.hash = `#/contacts?email=${encodeURIComponent(email)}`;
});

void render();
