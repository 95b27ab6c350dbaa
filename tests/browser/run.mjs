// The browser suite (part of `make test`): the CRM's pages in Debian's
// Chromium, driven by playwright-core, against the running test stack.
//
// It logs in through the login form, creates a customer with JavaScript
// off and on, sees the server's validation error next to the email field,
// edits with a stale version and sees the conflict (with and without
// JavaScript), creates and confirms an order, sees the dashboard change,
// builds a segment with the rule builder and its live count, and logs in
// as a viewer to find no write actions. Every page visited is saved as a
// screenshot in $CRM_BROWSER_ARTIFACTS. Any CSP violation, page error or
// failed request fails the suite; so does an unlabelled input, a page
// wider than a phone, or a focus that cannot be seen.
//
// Environment (scripts/test.sh sets it): CRM_BASE_URL, CRM_BROWSER_SECRETS
// (the folder of demo-<user>.password files), CRM_BROWSER_ARTIFACTS,
// CRM_CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const BASE = process.env.CRM_BASE_URL;
const SECRETS = process.env.CRM_BROWSER_SECRETS;
const ARTIFACTS = process.env.CRM_BROWSER_ARTIFACTS || 'build/artifacts/browser';
const CHROMIUM = process.env.CRM_CHROMIUM || '/usr/bin/chromium';
if (!BASE || !SECRETS) {
    console.error('run.mjs: CRM_BASE_URL and CRM_BROWSER_SECRETS are needed (scripts/test.sh browser)');
    process.exit(2);
}
rmSync(ARTIFACTS, { recursive: true, force: true });
mkdirSync(ARTIFACTS, { recursive: true });

const users = {
    admin: 'ui-admin@example.com',
    sales: 'ui-sales@example.com',
    marketing: 'ui-marketing@example.com',
    viewer: 'ui-viewer@example.com',
};
const password = (email) =>
    readFileSync(join(SECRETS, `demo-${email.split('@')[0]}.password`), 'utf8').trim();

let passed = 0;
let failed = 0;
const problems = []; // CSP violations, page errors, failed requests
let shot = 0;

function check(ok, what, detail) {
    if (ok) {
        passed++;
        console.log(`ok - ${what}`);
    } else {
        failed++;
        console.log(`not ok - ${what}${detail ? `: ${detail}` : ''}`);
    }
    return ok;
}

const unique = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

// Watch a page for what must never happen on any page.
function watch(page, label) {
    page.on('console', (msg) => {
        const text = msg.text();
        if (/Content Security Policy|Refused to (load|execute|apply|connect|frame)/i.test(text))
            problems.push(`${label}: CSP: ${text}`);
    });
    page.on('pageerror', (err) => problems.push(`${label}: page error: ${err.message}`));
    page.on('requestfailed', (req) => {
        const why = req.failure() ? req.failure().errorText : '';
        // A navigation replaced by another (a click while loading) is no failure.
        if (why !== 'net::ERR_ABORTED')
            problems.push(`${label}: request failed: ${req.method()} ${req.url()} ${why}`);
    });
    page.on('response', (res) => {
        const type = res.request().resourceType();
        const status = res.status();
        // Pages and API calls answer 4xx on purpose (the tests ask for
        // them and check them); assets never may, and nothing may 5xx.
        if (status >= 500 || (status >= 400 && !['document', 'fetch', 'xhr'].includes(type)))
            problems.push(`${label}: ${status} for ${type} ${res.url()}`);
    });
    return page;
}

async function snap(page, name) {
    shot++;
    const file = join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
}

// Every visible input, select and textarea has a label (for= or wrapping
// label or aria-label): the accessibility rule the issue asks for.
async function unlabelled(page) {
    return page.evaluate(() => {
        const bad = [];
        for (const el of document.querySelectorAll('input, select, textarea')) {
            if (el.type === 'hidden')
                continue;
            const labelled = (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)) ||
                el.closest('label') || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
            if (!labelled)
                bad.push(el.name || el.outerHTML.slice(0, 60));
        }
        return bad;
    });
}

async function visit(page, path, name) {
    const res = await page.goto(BASE + path);
    await snap(page, name);
    const bad = await unlabelled(page);
    check(bad.length === 0, `${path}: every input labelled`, bad.join(', '));
    return res;
}

async function login(context, role) {
    const page = watch(await context.newPage(), role);
    await page.goto(BASE + '/customers');
    check(new URL(page.url()).pathname === '/login.html', `${role}: not logged in, /customers sends to the login page`,
        page.url());
    await page.getByLabel('Email').fill(users[role]);
    await page.getByLabel('Password').fill(password(users[role]));
    await Promise.all([page.waitForURL((u) => u.pathname === '/customers'),
        page.getByRole('button', { name: 'Log in' }).click()]);
    check(await page.locator('main h1').innerText() === 'Customers', `${role}: logged in through the form, on /customers`);
    return page;
}

const idFrom = (url, what) => {
    const m = new URL(url).pathname.match(new RegExp(`^/${what}/(\\d+)$`));
    return m ? Number(m[1]) : 0;
};

async function main() {
    const browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        // No background traffic: this machine's network is closed.
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const opts = { ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } };
    try {
        await scenarios(browser, opts);
    } finally {
        await browser.close();
    }
}

async function scenarios(browser, opts) {
    // ---- admin, JavaScript on ----
    const js = await browser.newContext(opts);
    js.on('dialog', (d) => d.accept());
    const loginPage = watch(await js.newPage(), 'login');
    await loginPage.goto(BASE + '/login.html');
    await snap(loginPage, 'login');
    check((await unlabelled(loginPage)).length === 0, 'login page: every input labelled');
    // The watch can fail: an inline script added to a page of ours is
    // refused by the CSP, and the watch sees it (then forgets it).
    const seen = problems.length;
    await loginPage.evaluate(() => {
        const s = document.createElement('script');
        s.textContent = 'window.canary = 1';
        document.body.appendChild(s);
    });
    await loginPage.waitForTimeout(200);
    const ran = await loginPage.evaluate(() => window.canary === 1);
    const caught = problems.slice(seen).some((p) => p.includes('CSP'));
    check(!ran && caught, 'the CSP refuses an inline script, and the watch reports it', `ran ${ran}, caught ${caught}`);
    problems.length = seen;
    await loginPage.close();

    const page = await login(js, 'admin');
    await snap(page, 'customers-list');
    // Keyboard: the first Tab lands on the skip link, and focus is drawn.
    await page.keyboard.press('Tab');
    const focus = await page.evaluate(() => {
        const el = document.activeElement;
        const s = getComputedStyle(el);
        return { cls: el.className, outline: s.outlineStyle, width: s.outlineWidth };
    });
    check(focus.cls === 'skip' && focus.outline !== 'none' && focus.width !== '0px',
        'keyboard: the first Tab focuses the skip link, with a visible outline', JSON.stringify(focus));
    await page.keyboard.press('Enter');
    check(await page.evaluate(() => document.activeElement.id) === 'main', 'keyboard: the skip link moves focus to the content');

    // Create a customer with a bad email: the server's 422 lands next to
    // the email field, nothing is created, the page stays.
    const name = `Ada ${unique()}`;
    await visit(page, '/customers/new', 'customer-new');
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Email').fill('not-an-email');
    await page.getByRole('button', { name: 'Create customer' }).click();
    const emailError = page.locator('[data-error-for="email"]');
    await emailError.waitFor({ state: 'visible', timeout: 5000 }).catch(() => {});
    const errText = (await emailError.innerText().catch(() => '')).trim();
    check(errText.length > 0, 'JS: the server\'s validation error is shown next to the email field', errText);
    check(await page.getByLabel('Email').getAttribute('aria-invalid') === 'true', 'JS: the email field is marked invalid');
    check(new URL(page.url()).pathname === '/customers/new', 'JS: the form stays open on an error');
    await snap(page, 'customer-new-error');

    // Correct it: created, and the browser goes to its page.
    const email = `ada.${unique()}@example.com`;
    await page.getByLabel('Email').fill(email);
    await Promise.all([page.waitForURL((u) => /^\/customers\/\d+$/.test(u.pathname)),
        page.getByRole('button', { name: 'Create customer' }).click()]);
    const custJs = idFrom(page.url(), 'customers');
    check(custJs > 0 && (await page.locator('main h1').innerText()).includes(name),
        'JS: customer created through the form, its page shown', page.url());
    await snap(page, 'customer-show');

    // A note, through the form.
    await page.getByLabel('Note').fill('Called about the renewal.\nShe wants a quote.');
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Add note' }).click()]);
    await page.locator('#notes li').first().waitFor({ timeout: 5000 }).catch(() => {});
    check((await page.locator('#notes').innerText().catch(() => '')).includes('renewal'),
        'JS: the note appears on the timeline');

    // ---- JavaScript off: the same flows as plain forms ----
    const nojs = await browser.newContext({ ...opts, javaScriptEnabled: false });
    const plain = await login(nojs, 'admin');
    const name2 = `Grace ${unique()}`;
    await visit(plain, '/customers/new', 'nojs-customer-new');
    await plain.getByLabel('Name', { exact: true }).fill(name2);
    await plain.getByLabel('Email').fill(`grace.${unique()}@example.com`);
    await Promise.all([plain.waitForURL((u) => /^\/customers\/\d+$/.test(u.pathname)),
        plain.getByRole('button', { name: 'Create customer' }).click()]);
    const custPlain = idFrom(plain.url(), 'customers');
    check(custPlain > 0 && (await plain.locator('main h1').innerText()).includes(name2),
        'no JS: customer created by a plain form post, 303 to its page', plain.url());
    await snap(plain, 'nojs-customer-show');

    // No JS, bad email: a page that names the field.
    await plain.goto(BASE + '/customers/new');
    await plain.getByLabel('Name', { exact: true }).fill(name2);
    await plain.getByLabel('Email').fill('nope');
    const [bad] = await Promise.all([plain.waitForNavigation(),
        plain.getByRole('button', { name: 'Create customer' }).click()]);
    check(bad && bad.status() === 422 && (await plain.locator('.problem').innerText()).includes('email'),
        'no JS: a 422 page lists the email error', bad ? String(bad.status()) : 'no response');
    await snap(plain, 'nojs-customer-error');

    // Stale version, no JS: open the edit form, someone else saves, submit.
    await visit(plain, `/customers/${custPlain}/edit`, 'nojs-customer-edit');
    const other = watch(await js.newPage(), 'other');
    await other.goto(`${BASE}/customers/${custPlain}/edit`);
    await other.getByLabel('Company').fill('Changed elsewhere');
    await Promise.all([other.waitForURL((u) => u.pathname === `/customers/${custPlain}`),
        other.getByRole('button', { name: 'Save changes' }).click()]);
    await plain.getByLabel('Company').fill('My stale change');
    const [conflict] = await Promise.all([plain.waitForNavigation(),
        plain.getByRole('button', { name: 'Save changes' }).click()]);
    check(conflict && conflict.status() === 412 &&
        /changed this record/i.test(await plain.locator('main').innerText()),
    'no JS: a stale version shows the conflict page', conflict ? String(conflict.status()) : '');
    await snap(plain, 'nojs-customer-conflict');

    // Stale version, JS: the same, in the form's error box.
    await page.goto(`${BASE}/customers/${custJs}/edit`);
    await other.goto(`${BASE}/customers/${custJs}/edit`);
    await other.getByLabel('Company').fill('Changed elsewhere too');
    await Promise.all([other.waitForURL((u) => u.pathname === `/customers/${custJs}`),
        other.getByRole('button', { name: 'Save changes' }).click()]);
    await page.getByLabel('Company').fill('My stale change');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const box = page.locator('[data-form-error]');
    await box.waitFor({ state: 'visible', timeout: 5000 }).catch(() => {});
    const boxText = await box.innerText().catch(() => '');
    check(/changed this record/i.test(boxText) && (await box.getAttribute('data-status')) === '412',
        'JS: a stale version shows the conflict next to the form', boxText);
    await snap(page, 'customer-conflict');
    await other.goto(`${BASE}/customers/${custJs}`);
    check(!(await other.locator('main').innerText()).includes('My stale change'), 'the stale change was not saved');

    // ---- products and orders ----
    const sku = `UI-${unique()}`.toUpperCase();
    await visit(page, '/products/new', 'product-new');
    await page.getByLabel('SKU').fill(sku);
    await page.getByLabel('Name', { exact: true }).fill(`Widget ${sku}`);
    await page.getByLabel('Price (cents)').fill('1250');
    await page.getByLabel('Currency').fill('EUR');
    const stock = page.getByLabel('Stock');
    if (await stock.count())
        await stock.fill('100');
    await Promise.all([page.waitForURL((u) => /^\/products\/\d+$/.test(u.pathname)),
        page.getByRole('button', { name: 'Create product' }).click()]);
    const product = idFrom(page.url(), 'products');
    check(product > 0, 'product created through the form', page.url());
    await snap(page, 'product-show');
    await visit(page, '/products', 'products-list');

    // The dashboard before the order.
    await visit(page, '/dashboard', 'dashboard-before');
    const revenue = async () => Number(await page.locator('#revenue-total').getAttribute('data-cents'));
    const before = await revenue();
    check(Number.isFinite(before), 'dashboard: revenue total shown', String(before));

    // The order: sales learns of the customer through its events, so the
    // customer may take a moment to be offered.
    let offered = false;
    for (let i = 0; i < 40 && !offered; i++) {
        await page.goto(BASE + '/orders/new');
        offered = (await page.locator(`select[name="customer_id"] option[value="${custJs}"]`).count()) > 0 ||
            (await page.locator('input[name="customer_id"]').count()) > 0;
        if (!offered)
            await page.waitForTimeout(250);
    }
    check(offered, 'orders/new offers the new customer');
    await snap(page, 'order-new');
    check((await unlabelled(page)).length === 0, '/orders/new: every input labelled');
    const customerField = page.locator('[name="customer_id"]');
    if (await customerField.evaluate((el) => el.tagName) === 'SELECT')
        await customerField.selectOption(String(custJs));
    else
        await customerField.fill(String(custJs));
    await page.locator('[name="lines[0].product_id"]').selectOption(String(product));
    await page.locator('[name="lines[0].quantity"]').fill('3');
    await Promise.all([page.waitForURL((u) => /^\/orders\/\d+$/.test(u.pathname)),
        page.getByRole('button', { name: 'Create order' }).click()]);
    const order = idFrom(page.url(), 'orders');
    check(order > 0, 'order created through the form', page.url());
    const total = await page.locator('#order-total').innerText().catch(() => '');
    check(total.includes('37.50'), 'the order shows the server\'s total (3 x 12.50)', total);
    await snap(page, 'order-show');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }),
        page.getByRole('button', { name: 'Confirm order' }).click()]);
    const status = (await page.locator('#order-status').innerText()).trim();
    check(status === 'confirmed', 'confirm: the order page shows the server\'s new status', status);
    await snap(page, 'order-confirmed');
    await visit(page, '/orders', 'orders-list');

    // The dashboard changes once marketing has the order's event.
    let after = before;
    for (let i = 0; i < 60 && after < before + 3750; i++) {
        await page.waitForTimeout(500);
        await page.goto(BASE + '/dashboard');
        after = await revenue();
    }
    check(after >= before + 3750, 'dashboard: revenue by day grows by the confirmed order', `${before} -> ${after}`);
    await snap(page, 'dashboard-after');
    check(await page.locator('#rfm-heat').count() === 1, 'dashboard: the RFM heat map is there');
    check(await page.locator('svg.chart').count() >= 1, 'dashboard: the revenue chart is there');

    // ---- segments and campaigns ----
    await visit(page, '/segments/new', 'segment-new');
    await page.getByLabel('Name', { exact: true }).fill(`Big spenders ${unique()}`);
    // The rule builder: one condition, "status is lead"; the count of
    // matching customers appears as it is typed.
    const preview = page.locator('#segment-preview');
    await page.locator('select[name="rule.conditions[0].field"]').selectOption('status');
    await page.locator('select[name="rule.conditions[0].op"]').selectOption('eq');
    await page.locator('input[name="rule.conditions[0].value"]').fill('lead');
    await page.waitForFunction(() => /\d+ customers? match/.test(document.querySelector('#segment-preview')?.textContent || ''),
        null, { timeout: 8000 }).catch(() => {});
    const previewText = (await preview.innerText().catch(() => '')).trim();
    check(/\d+ customers? match/.test(previewText), 'segment builder: live member count preview', previewText);
    // A second row added by the script, left empty: ignored by the server.
    const rows = await page.locator('select[name$=".field"]').count();
    await page.getByRole('button', { name: 'Add a condition' }).click();
    check(await page.locator('select[name$=".field"]').count() === rows + 1, 'segment builder: a row can be added');
    await snap(page, 'segment-preview');
    await Promise.all([page.waitForURL((u) => /^\/segments\/\d+$/.test(u.pathname)),
        page.getByRole('button', { name: 'Create segment' }).click()]);
    check(idFrom(page.url(), 'segments') > 0, 'segment created through the rule builder', page.url());
    await snap(page, 'segment-show');
    await visit(page, '/segments', 'segments-list');
    await visit(page, '/campaigns/new', 'campaign-new');
    await page.getByLabel('Name', { exact: true }).fill(`Spring ${unique()}`);
    await Promise.all([page.waitForURL((u) => /^\/campaigns\/\d+$/.test(u.pathname)),
        page.getByRole('button', { name: 'Create campaign' }).click()]);
    check(idFrom(page.url(), 'campaigns') > 0, 'campaign created through the form', page.url());
    await snap(page, 'campaign-show');
    await visit(page, '/campaigns', 'campaigns-list');
    await visit(page, '/dashboard', 'dashboard-campaigns');
    check(await page.locator('svg.chart').count() >= 2, 'dashboard: the campaign ROI chart is there with a campaign');

    // ---- phone width ----
    const phone = await browser.newContext({ ...opts, viewport: { width: 375, height: 800 } });
    const mobile = await login(phone, 'admin');
    for (const path of ['/customers', `/customers/${custJs}`, `/orders/${order}`, '/dashboard']) {
        await mobile.goto(BASE + path);
        await snap(mobile, `phone${path.replaceAll('/', '-')}`);
        const wide = await mobile.evaluate(() => document.documentElement.scrollWidth);
        check(wide <= 376, `phone width: ${path} fits 375 px`, `${wide} px`);
    }
    await phone.close();

    // ---- viewer: nothing to write ----
    const vctx = await browser.newContext(opts);
    const viewer = await login(vctx, 'viewer');
    for (const path of ['/customers', `/customers/${custJs}`, '/products', `/products/${product}`, '/orders',
        `/orders/${order}`, '/campaigns', '/segments', '/dashboard']) {
        await visit(viewer, path, `viewer${path.replaceAll('/', '-')}`);
        const writes = await viewer.evaluate(() => {
            const found = [];
            for (const f of document.querySelectorAll('form[method="post"], form[method="POST"]'))
                if (!f.classList.contains('logout'))
                    found.push(`form ${f.getAttribute('action')}`);
            for (const a of document.querySelectorAll('a[href$="/new"], a[href$="/edit"]'))
                found.push(`link ${a.getAttribute('href')}`);
            return found;
        });
        check(writes.length === 0, `viewer: no write actions on ${path}`, writes.join(', '));
    }
    // ... and the server still refuses one, with the viewer's own token.
    const refused = await viewer.evaluate(async () => {
        const csrf = document.cookie.split('; ').find((c) => c.startsWith('__Host-crm_csrf='));
        const res = await fetch('/api/v1/customers', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', 'Accept': 'application/json',
                'X-CSRF-Token': csrf ? csrf.split('=')[1] : '' },
            body: JSON.stringify({ name: 'Nope', email: 'nope@example.com' }),
        });
        return res.status;
    });
    check(refused === 403, 'viewer: the server refuses a write (403)', String(refused));
    const gone = await viewer.goto(BASE + '/customers/new');
    check(gone.status() === 403, 'viewer: the new-customer page is refused (403)', String(gone.status()));

    // ---- sales: no marketing pages offered ----
    const sctx = await browser.newContext(opts);
    const sales = await login(sctx, 'sales');
    const nav = await sales.locator('header nav').innerText();
    check(!/Campaigns|Segments|Dashboard/.test(nav) && /Customers/.test(nav) && /Orders/.test(nav),
        'sales: the navigation offers only what a sales user may see', nav.replace(/\s+/g, ' '));
    await snap(sales, 'sales-customers');

    // ---- logout ----
    await Promise.all([page.waitForURL((u) => u.pathname === '/login.html'),
        page.getByRole('button', { name: 'Log out' }).click()]);
    await page.goto(BASE + '/customers');
    check(new URL(page.url()).pathname === '/login.html', 'logout: pages send to the login page again');

    for (const c of [js, nojs, vctx, sctx])
        await c.close();
}

try {
    await main();
} catch (err) {
    check(false, 'the suite ran to its end', err && err.stack ? err.stack : String(err));
}
check(problems.length === 0, 'no CSP violation, page error or failed request', `\n  ${problems.join('\n  ')}`);
console.log(`\nscreenshots: ${ARTIFACTS}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
