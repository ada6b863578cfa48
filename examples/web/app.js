// The reference customer client: every step of a customer's journey through the
// API, with no build step. Read it beside the README's GraphQL section.
import { Api, ApiError } from './graphql.js';

const api = new Api();
const $ = (selector) => document.querySelector(selector);
const rupiah = (amount) => `Rp ${Number(amount).toLocaleString('id-ID')}`;

// --- The documents ---------------------------------------------------------

const CATALOGUE = `query Catalogue($first: Int, $platform: Platform, $search: String, $categoryId: ID) {
  googleClientId
  categories { id name }
  services(first: $first, platform: $platform, search: $search, categoryId: $categoryId) {
    nodes { id name description type platform pricePer1000 minQuantity maxQuantity dripfeed }
  }
}`;
const SIGN_IN = `mutation SignIn($email: String!, $password: String!, $totpCode: String) {
  signIn(email: $email, password: $password, totpCode: $totpCode) { token }
}`;
const SIGN_IN_WITH_GOOGLE = `mutation SignInWithGoogle($idToken: String!) {
  signInWithGoogle(idToken: $idToken) { token }
}`;
const ME = `query Me { me { id email name balance } }`;
const ORDER_FIELDS = `id quantity charge refunded status remains service { id name }`;
const MY_ORDERS = `query MyOrders { myOrders(first: 20) { nodes { ${ORDER_FIELDS} } } }`;
const PLACE_ORDER = `mutation PlaceOrder($input: PlaceOrderInput!) { placeOrder(input: $input) { ${ORDER_FIELDS} } }`;
const ORDER_UPDATES = `subscription MyOrderUpdates { myOrderUpdates { orderId status remains order { ${ORDER_FIELDS} } } }`;
const CREATE_DEPOSIT = `mutation CreateDeposit($amount: Rupiah!, $gateway: PaymentGateway) {
  createDeposit(amount: $amount, gateway: $gateway) { id amount payableAmount status paymentUrl expiresAt }
}`;
const OPEN_TICKET = `mutation OpenTicket($input: OpenTicketInput!) {
  openTicket(input: $input) { botAnswered ticket { id subject status messages { author body } } }
}`;
const TICKET_UPDATES = `subscription MyTicketUpdates { myTicketUpdates { ticket { id subject status messages { author body } } } }`;

// The extra fields each service type asks for (see PlaceOrderInput).
const TYPE_FIELDS = {
  DEFAULT: ['quantity'],
  PACKAGE: ['quantity'],
  CUSTOM_COMMENTS: ['comments'],
  CUSTOM_COMMENTS_PACKAGE: ['comments'],
  MENTIONS: ['quantity', 'usernames'],
  MENTIONS_WITH_HASHTAGS: ['quantity', 'usernames', 'hashtags'],
  MENTIONS_CUSTOM_LIST: ['usernames'],
  MENTIONS_HASHTAG: ['quantity', 'hashtag'],
  MENTIONS_USER_FOLLOWERS: ['quantity', 'username'],
  MENTIONS_MEDIA_LIKERS: ['quantity', 'media'],
  COMMENT_LIKES: ['quantity', 'username'],
  COMMENT_REPLIES: ['username', 'comments'],
  POLL: ['quantity', 'answerNumber'],
  INVITES_FROM_GROUPS: ['quantity', 'groups'],
  SUBSCRIPTIONS: ['username', 'min', 'max', 'posts', 'oldPosts', 'delay', 'expiry'],
};
const LINES = new Set(['comments', 'usernames', 'hashtags', 'groups']);
const NUMBERS = new Set(['quantity', 'answerNumber', 'min', 'max', 'posts', 'oldPosts', 'delay', 'runs', 'interval']);

// --- State -----------------------------------------------------------------

const orders = new Map();
let services = [];
let stopOrderUpdates = null;
let stopTicketUpdates = null;

function showError(id, error) {
  const where = error instanceof ApiError && error.field ? ` (${error.field})` : '';
  $(id).textContent = error ? `${error.message}${where}` : '';
}

// --- Catalogue (anonymous or signed in, persisted GET) ---------------------

async function loadCatalogue() {
  const form = new FormData($('#filters'));
  const variables = { first: 50 };
  for (const name of ['platform', 'search', 'categoryId']) {
    if (form.get(name)) variables[name] = form.get(name);
  }
  const data = await api.persisted(CATALOGUE, variables);
  if (data.googleClientId && !api.token) offerGoogle(data.googleClientId);
  const categories = $('#filters select[name=categoryId]');
  if (categories.options.length === 1) {
    for (const category of data.categories) categories.add(new Option(category.name, category.id));
  }
  services = data.services.nodes;
  const rows = services.map((service) => {
    const row = document.createElement('tr');
    row.dataset.serviceId = service.id;
    for (const text of [service.name, service.type, rupiah(service.pricePer1000), `${service.minQuantity}–${service.maxQuantity}`]) {
      row.insertCell().textContent = text;
    }
    const order = document.createElement('button');
    order.type = 'button';
    order.textContent = 'Order';
    order.disabled = !api.token;
    order.addEventListener('click', () => openOrderForm(service));
    row.insertCell().append(order);
    return row;
  });
  $('#services tbody').replaceChildren(...rows);
}

// --- Signing in ------------------------------------------------------------

async function signedIn() {
  try {
    const { me } = await api.post(ME);
    if (!me) throw new ApiError({ message: 'the token is not valid' });
    $('#who').textContent = me.email;
    showBalance(me.balance);
    for (const id of ['#account', '#orders-section', '#wallet-section', '#support-section']) $(id).hidden = false;
    $('#sign-in-section').hidden = true;
    await loadOrders();
    followOrders();
    followTickets();
    await loadCatalogue();
  } catch (error) {
    api.setToken(null);
    showError('#sign-in-error', error);
  }
}

function showBalance(amount) {
  $('#balance').textContent = rupiah(amount);
  $('#balance').dataset.amount = amount;
}

async function refreshBalance() {
  const { me } = await api.post(ME);
  showBalance(me.balance);
}

$('#sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  showError('#sign-in-error', null);
  const form = new FormData(event.target);
  try {
    const { signIn } = await api.post(SIGN_IN, {
      email: form.get('email'),
      password: form.get('password'),
      totpCode: form.get('totpCode') || null,
    });
    api.setToken(signIn.token);
    await signedIn();
  } catch (error) {
    showError('#sign-in-error', error);
  }
});

// "Sign in with Google" where the panel has a client id: Google Identity Services
// hands over an ID token, which the server verifies.
let googleOffered = false;
function offerGoogle(clientId) {
  if (googleOffered) return;
  googleOffered = true;
  const script = document.createElement('script');
  script.src = 'https://accounts.google.com/gsi/client';
  script.onerror = () => console.warn('Google sign-in is unreachable from here');
  script.onload = () => {
    window.google.accounts.id.initialize({
      client_id: clientId,
      callback: async ({ credential }) => {
        try {
          const { signInWithGoogle } = await api.post(SIGN_IN_WITH_GOOGLE, { idToken: credential });
          api.setToken(signInWithGoogle.token);
          await signedIn();
        } catch (error) {
          showError('#sign-in-error', error);
        }
      },
    });
    $('#google-sign-in').hidden = false;
    window.google.accounts.id.renderButton($('#google-sign-in'), { theme: 'outline', size: 'large' });
  };
  document.head.append(script);
}

$('#token-sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  api.setToken(new FormData(event.target).get('token').trim());
  await signedIn();
});

$('#sign-out').addEventListener('click', () => {
  stopOrderUpdates?.();
  stopTicketUpdates?.();
  api.setToken(null);
  location.reload();
});

// --- Ordering ----------------------------------------------------------------

function openOrderForm(service) {
  $('#order-section').hidden = false;
  $('#order-service').textContent = service.name;
  const fields = ['link', ...(TYPE_FIELDS[service.type] ?? ['quantity'])];
  if (service.dripfeed) fields.push('runs', 'interval');
  const inputs = fields.map((name) => {
    const label = document.createElement('label');
    label.textContent = name;
    const input = document.createElement(LINES.has(name) ? 'textarea' : 'input');
    input.name = name;
    if (NUMBERS.has(name)) input.type = 'number';
    if (name === 'quantity') {
      input.min = service.minQuantity;
      input.max = service.maxQuantity;
    }
    if (name === 'link') input.required = true;
    label.append(input);
    return label;
  });
  const submit = document.createElement('button');
  submit.textContent = 'Place order';
  const form = $('#order-form');
  form.replaceChildren(...inputs, submit);
  form.onsubmit = async (event) => {
    event.preventDefault();
    showError('#order-error', null);
    const input = { serviceId: service.id, idempotencyKey: crypto.randomUUID() };
    for (const [name, value] of new FormData(form)) {
      if (value === '') continue;
      input[name] = NUMBERS.has(name) ? Number(value) : value;
    }
    try {
      const { placeOrder } = await api.post(PLACE_ORDER, { input });
      showOrder(placeOrder);
      await refreshBalance();
      form.reset();
    } catch (error) {
      showError('#order-error', error);
    }
  };
}

// --- My orders, live -------------------------------------------------------

function showOrder(order) {
  orders.set(order.id, order);
  let row = document.querySelector(`#orders tr[data-order-id="${order.id}"]`);
  if (!row) {
    row = document.createElement('tr');
    row.dataset.orderId = order.id;
    for (let i = 0; i < 6; i++) row.insertCell();
    $('#orders tbody').prepend(row);
  }
  const cells = row.cells;
  cells[0].textContent = order.id;
  cells[1].textContent = order.service.name;
  cells[2].textContent = order.quantity;
  cells[3].textContent = rupiah(order.charge);
  cells[4].textContent = rupiah(order.refunded);
  cells[5].textContent = order.status;
  cells[5].className = `status-${order.status}`;
  cells[5].dataset.testid = 'status';
}

async function loadOrders() {
  const { myOrders } = await api.post(MY_ORDERS);
  for (const order of [...myOrders.nodes].reverse()) showOrder(order);
}

function followOrders() {
  stopOrderUpdates?.();
  // After a reconnection, read the orders again: what changed meanwhile is not resent.
  api.onConnected = () => loadOrders().then(refreshBalance).catch(console.error);
  stopOrderUpdates = api.subscribe(ORDER_UPDATES, {}, async ({ myOrderUpdates }) => {
    if (myOrderUpdates.order) showOrder(myOrderUpdates.order);
    // A partial or canceled order refunds what was not delivered.
    await refreshBalance();
  });
}

// --- Top up --------------------------------------------------------------------

$('#deposit-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  showError('#deposit-error', null);
  const form = new FormData(event.target);
  try {
    const { createDeposit } = await api.post(CREATE_DEPOSIT, {
      amount: Number(form.get('amount')),
      gateway: form.get('gateway'),
    });
    const item = document.createElement('li');
    item.dataset.depositId = createDeposit.id;
    item.textContent = `Deposit ${createDeposit.id}: pay ${rupiah(createDeposit.payableAmount)} (${createDeposit.status}) `;
    if (createDeposit.paymentUrl) {
      const link = document.createElement('a');
      link.href = createDeposit.paymentUrl;
      link.textContent = 'Pay now';
      link.target = '_blank';
      link.rel = 'noopener';
      item.append(link);
    }
    $('#deposits').prepend(item);
  } catch (error) {
    showError('#deposit-error', error);
  }
});

// --- Support ---------------------------------------------------------------------

function showTicket(ticket) {
  let box = document.querySelector(`#tickets [data-ticket-id="${ticket.id}"]`);
  if (!box) {
    box = document.createElement('article');
    box.dataset.ticketId = ticket.id;
    $('#tickets').prepend(box);
  }
  const title = document.createElement('h3');
  title.textContent = `${ticket.subject} (${ticket.status})`;
  const messages = ticket.messages.map((message) => {
    const p = document.createElement('p');
    p.className = `message ${message.author}`;
    p.textContent = `${message.author}: ${message.body}`;
    return p;
  });
  box.replaceChildren(title, ...messages);
}

function followTickets() {
  stopTicketUpdates?.();
  stopTicketUpdates = api.subscribe(TICKET_UPDATES, {}, ({ myTicketUpdates }) => {
    if (myTicketUpdates.ticket) showTicket(myTicketUpdates.ticket);
  });
}

$('#ticket-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  showError('#ticket-error', null);
  const form = new FormData(event.target);
  try {
    const { openTicket } = await api.post(OPEN_TICKET, {
      input: { topic: form.get('topic'), subject: form.get('subject'), message: form.get('message') },
    });
    showTicket(openTicket.ticket);
    event.target.reset();
  } catch (error) {
    showError('#ticket-error', error);
  }
});

// --- Start -----------------------------------------------------------------------

$('#filters').addEventListener('input', () => loadCatalogue().catch(console.error));
if (api.token) await signedIn();
else await loadCatalogue();
