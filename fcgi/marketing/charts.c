/*
 * charts.c - the dashboard: revenue by day, the RFM grid as a heat map,
 * and what the latest campaigns returned, drawn on the server as SVG and
 * HTML tables. Colours are classes of style.css (the CSP forbids style
 * attributes); every picture has its figures next to it as text.
 *
 * Everything is read when the page is asked for: orders arrive in
 * marketing's replica within a second of their confirmation in sales, and
 * the refresher recomputes the RFM grid soon after.
 */
#include "marketing.h"

#include "crm_api.h"
#include "crm_html.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define DAYS           30
#define CURRENCIES_MAX 200
#define CAMPAIGNS      10 /* the latest campaigns the ROI chart shows */
#define NAME_SHOWN     26 /* characters of a campaign's name in the chart */

/* The revenue chart's frame (SVG user units). */
#define RW    720.0
#define RH    260.0
#define RLEFT 80.0
#define RTOP  12.0
#define RBOT  36.0

/* The ROI chart: one row per campaign. */
#define OW     720.0
#define OLEFT  200.0
#define ORIGHT 80.0
#define OROW   28.0

/* ---- revenue by day ---- */

typedef struct {
    char day[16]; /* YYYY-MM-DD */
    int64_t orders;
    int64_t cents;
} day_total;

typedef struct {
    const char *currency; /* the one shown */
    day_total days[DAYS]; /* oldest first; the last is today */
    int64_t orders, cents;
    const char **others; /* currencies with orders not shown */
    size_t n_others;
} revenue;

/* "YYYY-MM-DD" of the UTC day `back` days before now's. */
static void day_before(const char *now, int back, char out[16])
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(now, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3) {
        snprintf(out, 16, "%.10s", now);
        return;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_hour = 12; /* midday: no leap second moves the date */
    time_t t = timegm(&tm) - (time_t)back * 86400;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

/*
 * The currency with the most orders in the period (ties: the reporting
 * currency, else the first by code); the reporting currency when there
 * is none.
 */
static const char *main_currency(const day_row *rows, size_t n)
{
    const char *best = mk_currency;
    int64_t most = 0;

    for (size_t i = 0; i < n;) {
        size_t j = i;
        int64_t orders = 0;
        for (; j < n && strcmp(rows[j].currency, rows[i].currency) == 0; j++)
            orders += rows[j].orders;
        if (orders > most || (orders == most && strcmp(rows[i].currency, mk_currency) == 0)) {
            best = rows[i].currency;
            most = orders;
        }
        i = j;
    }
    return best;
}

static int revenue_read(crm_arena *a, const char *now, revenue *rv)
{
    size_t max = (size_t)(DAYS + 1) * CURRENCIES_MAX, n = 0;
    day_row *rows = crm_arena_alloc(a, sizeof(*rows) * max);
    char since[16];
    int rc;

    memset(rv, 0, sizeof(*rv));
    day_before(now, DAYS - 1, since);
    rc = store_revenue_by_day(mk_db, a, crm_arena_printf(a, "%s 00:00:00.000000", since), rows, max,
                              &n);
    if (rc != CRM_OK)
        return rc;
    for (int i = 0; i < DAYS; i++)
        day_before(now, DAYS - 1 - i, rv->days[i].day);
    rv->currency = main_currency(rows, n);
    rv->others = crm_arena_alloc(a, sizeof(*rv->others) * (n + 1));
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].currency, rv->currency) != 0) {
            if (rv->n_others == 0 || strcmp(rv->others[rv->n_others - 1], rows[i].currency) != 0)
                rv->others[rv->n_others++] = rows[i].currency;
            continue;
        }
        for (int d = 0; d < DAYS; d++) {
            if (strcmp(rv->days[d].day, rows[i].day) == 0) {
                rv->days[d].orders += rows[i].orders;
                rv->days[d].cents += rows[i].revenue_cents;
                rv->orders += rows[i].orders;
                rv->cents += rows[i].revenue_cents;
            }
        }
    }
    return CRM_OK;
}

static void revenue_svg(crm_buf *b, const revenue *rv)
{
    int64_t max = 0;
    double pw = RW - RLEFT - 8.0, ph = RH - RTOP - RBOT, slot = pw / DAYS, base = RTOP + ph;

    for (int i = 0; i < DAYS; i++)
        if (rv->days[i].cents > max)
            max = rv->days[i].cents;
    crm_buf_printf(b,
                   "<svg class=\"chart\" id=\"revenue-chart\" role=\"img\" viewBox=\"0 0 %.0f "
                   "%.0f\" aria-labelledby=\"revenue-chart-title revenue-chart-desc\">\n"
                   "<title id=\"revenue-chart-title\">Revenue by day, the last %d days</title>\n"
                   "<desc id=\"revenue-chart-desc\">One bar per day from %s to %s (UTC), in ",
                   RW, RH, DAYS, rv->days[0].day, rv->days[DAYS - 1].day);
    crm_html_esc(b, rv->currency);
    crm_buf_puts(b, "; the highest day brought ");
    crm_html_money(b, max, rv->currency);
    crm_buf_puts(b, ".</desc>\n");
    /* axes, and the top and middle of the scale */
    crm_buf_printf(b,
                   "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n"
                   "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                   RLEFT, RTOP, RLEFT, base, RLEFT, base, RW - 8.0, base);
    for (int k = 0; k <= 2; k++) {
        double y = base - ph * k / 2.0;
        crm_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", RLEFT - 6.0, y + 4.0);
        crm_html_money(b, max * k / 2, NULL);
        crm_buf_puts(b, "</text>\n");
        if (k > 0)
            crm_buf_printf(b,
                           "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                           "y2=\"%.1f\"/>\n",
                           RLEFT, y, RW - 8.0, y);
    }
    for (int i = 0; i < DAYS; i++) {
        const day_total *d = &rv->days[i];
        double x = RLEFT + slot * i + slot * 0.15;
        if (d->cents > 0 && max > 0) {
            double h = ph * (double)d->cents / (double)max;
            if (h < 1.0)
                h = 1.0; /* a day with revenue is never invisible */
            crm_buf_printf(b,
                           "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                           "height=\"%.1f\"><title>%s: ",
                           x, base - h, slot * 0.7, h, d->day);
            crm_html_money(b, d->cents, rv->currency);
            crm_buf_printf(b, ", %lld order%s</title></rect>\n", (long long)d->orders,
                           d->orders == 1 ? "" : "s");
        }
        /* a label every five days, and today */
        if ((DAYS - 1 - i) % 5 == 0)
            crm_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.5s</text>\n",
                           x + slot * 0.35, base + 16.0, d->day + 5);
    }
    crm_buf_puts(b, "</svg>\n");
}

static void revenue_table(crm_buf *b, const revenue *rv)
{
    crm_buf_puts(b, "<details><summary>The same figures as a table</summary>\n"
                    "<div class=\"table-wrap\"><table id=\"revenue-table\">\n<caption>Revenue by "
                    "day in ");
    crm_html_esc(b, rv->currency);
    crm_buf_puts(b, " (UTC days)</caption>\n<thead><tr><th scope=\"col\">Day</th>"
                    "<th scope=\"col\" class=\"num\">Orders</th><th scope=\"col\" class=\"num\">"
                    "Revenue</th></tr></thead>\n<tbody>\n");
    for (int i = DAYS - 1; i >= 0; i--) {
        const day_total *d = &rv->days[i];
        crm_buf_printf(b,
                       "<tr><th scope=\"row\">%s</th><td class=\"num\">%lld</td>"
                       "<td class=\"num\" data-cents=\"%lld\">",
                       d->day, (long long)d->orders, (long long)d->cents);
        crm_html_money(b, d->cents, rv->currency);
        crm_buf_puts(b, "</td></tr>\n");
    }
    crm_buf_puts(b, "</tbody></table></div></details>\n");
}

static void revenue_section(crm_buf *b, const revenue *rv)
{
    crm_buf_puts(b, "<section class=\"dash\" aria-labelledby=\"revenue-h\">\n"
                    "<h2 id=\"revenue-h\">Revenue by day</h2>\n<p class=\"muted\">Confirmed "
                    "orders in ");
    crm_html_esc(b, rv->currency);
    crm_buf_printf(b, ", the last %d days (UTC)", DAYS);
    if (rv->n_others > 0) {
        crm_buf_puts(b, ". The most common currency is shown; orders in ");
        for (size_t i = 0; i < rv->n_others; i++) {
            crm_buf_puts(b, i == 0 ? "" : i + 1 == rv->n_others ? " and " : ", ");
            crm_html_esc(b, rv->others[i]);
        }
        crm_buf_puts(b, " are not (amounts are never converted)");
    }
    crm_buf_puts(b, ".</p>\n");
    revenue_svg(b, rv);
    crm_buf_printf(b, "<p id=\"revenue-total\" data-cents=\"%lld\" data-currency=\"",
                   (long long)rv->cents);
    crm_html_esc(b, rv->currency);
    crm_buf_printf(b, "\" data-orders=\"%lld\">%d days: <strong>", (long long)rv->orders, DAYS);
    crm_html_money(b, rv->cents, rv->currency);
    crm_buf_printf(b, "</strong> from %lld order%s.</p>\n", (long long)rv->orders,
                   rv->orders == 1 ? "" : "s");
    revenue_table(b, rv);
    crm_buf_puts(b, "</section>\n");
}

/* ---- the RFM grid ---- */

static void rfm_section(crm_buf *b, crm_arena *a, const rfm_cutoffs *cut, int64_t cells[25][2])
{
    int64_t max = 0, total = 0;

    for (int i = 0; i < 25; i++) {
        total += cells[i][0];
        if (cells[i][0] > max)
            max = cells[i][0];
    }
    crm_buf_puts(b, "<section class=\"dash\" aria-labelledby=\"rfm-h\">\n"
                    "<h2 id=\"rfm-h\">Customers by recency and frequency</h2>\n");
    /* short headers, so the grid fits a phone; abbr says what they stand for */
    crm_buf_printf(b,
                   "<div class=\"table-wrap\"><table class=\"heat\" id=\"rfm-heat\" "
                   "data-customers=\"%lld\">\n<caption>Customers by recency score (rows) and "
                   "frequency score (columns)</caption>\n<thead><tr><td></td>",
                   (long long)total);
    for (int f = 1; f <= 5; f++)
        crm_buf_printf(b, "<th scope=\"col\"><abbr title=\"frequency\">F</abbr>&nbsp;%d</th>", f);
    crm_buf_puts(b, "</tr></thead>\n<tbody>\n");
    for (int r = 5; r >= 1; r--) {
        crm_buf_printf(b, "<tr><th scope=\"row\"><abbr title=\"recency\">R</abbr>&nbsp;%d</th>", r);
        for (int f = 1; f <= 5; f++) {
            int64_t n = cells[(r - 1) * 5 + (f - 1)][0];
            /* 0 for none, else 1..9 by share of the fullest cell */
            int64_t h = max > 0 ? (n * 9 + max - 1) / max : 0;
            crm_buf_printf(b, "<td class=\"h%lld\" data-r=\"%d\" data-f=\"%d\">%lld</td>",
                           (long long)h, r, f, (long long)n);
        }
        crm_buf_puts(b, "</tr>\n");
    }
    crm_buf_printf(b,
                   "</tbody></table></div>\n<p class=\"muted\">Each cell counts the customers "
                   "among the %lld with orders that have that recency score (5: ordered most "
                   "recently) and frequency score (5: ordered most often). Scores are quintiles; "
                   "darker cells hold more customers. Computed ",
                   (long long)total);
    crm_html_time(b, cut->computed_at ? crm_api_iso(a, cut->computed_at) : NULL);
    crm_buf_puts(b, ".</p>\n</section>\n");
}

/* ---- campaign ROI ---- */

/* s cut to at most max characters (UTF-8), with an ellipsis when cut. */
static const char *shortened(crm_arena *a, const char *s, size_t max)
{
    size_t chars = 0, i = 0;

    for (; s[i] != '\0'; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && ++chars > max)
            return crm_arena_printf(a, "%.*s\xE2\x80\xA6", (int)i, s);
    }
    return s;
}

static void roi_svg(crm_buf *b, crm_arena *a, const campaign *cs, const campaign_figures *fig,
                    size_t n)
{
    double hi = 0, lo = 0, pw = OW - OLEFT - ORIGHT, h = OROW * (double)n + 8.0;

    for (size_t i = 0; i < n; i++) {
        if (fig[i].has_roi && fig[i].roi > hi)
            hi = fig[i].roi;
        if (fig[i].has_roi && fig[i].roi < lo)
            lo = fig[i].roi;
    }
    double span = hi - lo > 0 ? hi - lo : 1.0;
    double zero = OLEFT + pw * (-lo / span);
    crm_buf_printf(b,
                   "<svg class=\"chart\" id=\"roi-chart\" role=\"img\" viewBox=\"0 0 %.0f %.0f\""
                   " aria-labelledby=\"roi-chart-title roi-chart-desc\">\n"
                   "<title id=\"roi-chart-title\">Return on investment of the latest "
                   "campaigns</title>\n<desc id=\"roi-chart-desc\">One bar per campaign: right "
                   "of the line it brought more than it cost, left of it less. The table below "
                   "has the figures.</desc>\n",
                   OW, h);
    for (size_t i = 0; i < n; i++) {
        double y = 4.0 + OROW * (double)i;
        crm_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", OLEFT - 8.0,
                       y + OROW / 2 + 4.0);
        crm_html_esc(b, shortened(a, cs[i].name, NAME_SHOWN));
        crm_buf_puts(b, "</text>\n");
        if (!fig[i].has_roi) {
            crm_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">no budget</text>\n", zero + 4.0,
                           y + OROW / 2 + 4.0);
            continue;
        }
        double w = pw * (fig[i].roi < 0 ? -fig[i].roi : fig[i].roi) / span;
        double x = fig[i].roi < 0 ? zero - w : zero;
        crm_buf_printf(b,
                       "<rect class=\"bar%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                       "height=\"%.1f\"><title>",
                       fig[i].roi < 0 ? " negative" : "", x, y + 4.0, w < 1.0 ? 1.0 : w,
                       OROW - 8.0);
        crm_html_esc(b, cs[i].name);
        crm_buf_puts(b, ": ");
        pages_roi(b, &fig[i]);
        /* the figure right of the bar, or of the line for a loss (the
           names are left of the chart) */
        crm_buf_printf(b, "</title></rect>\n<text x=\"%.1f\" y=\"%.1f\">",
                       fig[i].roi < 0 ? zero + 4.0 : x + w + 4.0, y + OROW / 2 + 4.0);
        pages_roi(b, &fig[i]);
        crm_buf_puts(b, "</text>\n");
    }
    crm_buf_printf(b, "<line class=\"axis\" x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%.1f\"/>\n", zero,
                   zero, h);
    crm_buf_puts(b, "</svg>\n");
}

static void roi_table(crm_buf *b, const campaign *cs, const campaign_figures *fig, size_t n)
{
    crm_buf_puts(b, "<div class=\"table-wrap\"><table id=\"roi-table\" class=\"stack\">\n"
                    "<thead><tr><th scope=\"col\">Campaign</th><th scope=\"col\">Status</th>"
                    "<th scope=\"col\" class=\"num\">Budget</th><th scope=\"col\" class=\"num\">"
                    "Attributed revenue</th><th scope=\"col\" class=\"num\">ROI</th></tr>"
                    "</thead>\n<tbody>\n");
    for (size_t i = 0; i < n; i++) {
        crm_buf_printf(b, "<tr data-campaign=\"%lld\"><td><a href=\"/campaigns/%lld\">",
                       (long long)cs[i].id, (long long)cs[i].id);
        crm_html_esc(b, cs[i].name);
        crm_buf_printf(b, "</a></td><td>%s</td><td class=\"num\">" PAGE_CELL_LABEL("Budget"),
                       campaign_status_name(cs[i].status));
        crm_html_money(b, cs[i].budget_cents, cs[i].currency);
        crm_buf_printf(b, "</td><td class=\"num\" data-cents=\"%lld\">" PAGE_CELL_LABEL("Revenue"),
                       (long long)fig[i].revenue_cents);
        crm_html_money(b, fig[i].revenue_cents, cs[i].currency);
        crm_buf_puts(b, "</td><td class=\"num\"");
        if (fig[i].has_roi)
            crm_buf_printf(b, " data-roi=\"%.4f\"", fig[i].roi);
        crm_buf_puts(b, ">" PAGE_CELL_LABEL("ROI"));
        pages_roi(b, &fig[i]);
        crm_buf_puts(b, "</td></tr>\n");
    }
    crm_buf_puts(b, "</tbody></table></div>\n");
}

static int roi_section(crm_buf *b, crm_arena *a)
{
    campaign cs[CAMPAIGNS + 1];
    campaign_figures fig[CAMPAIGNS];
    list_filter f;
    size_t n = 0;
    int rc;

    memset(&f, 0, sizeof(f));
    f.sort = SORT_CREATED_DESC;
    f.limit = CAMPAIGNS;
    if ((rc = store_campaign_list(mk_db, a, &f, cs, &n)) != CRM_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = campaign_figures_get(mk_db, a, &cs[i], &fig[i])) != CRM_OK)
            return rc;
    crm_buf_puts(b, "<section class=\"dash\" aria-labelledby=\"roi-h\">\n"
                    "<h2 id=\"roi-h\">Campaign return on investment</h2>\n");
    if (n == 0) {
        crm_buf_puts(b, "<p class=\"notice\">No campaigns yet.</p>\n</section>\n");
        return CRM_OK;
    }
    crm_buf_printf(b,
                   "<p class=\"muted\">The %zu latest campaigns: revenue of the confirmed orders "
                   "attributed to each, in its own currency, against its budget.</p>\n",
                   n);
    roi_svg(b, a, cs, fig, n);
    roi_table(b, cs, fig, n);
    crm_buf_puts(b, "</section>\n");
    return CRM_OK;
}

/* ---- the page ---- */

int dashboard_page(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    const char *now = crm_api_now(a);
    int64_t cells[25][2];
    rfm_cutoffs cut;
    revenue rv;
    crm_buf *b = &mk_out;
    int rc;

    if ((rc = revenue_read(a, now, &rv)) == CRM_OK &&
        (rc = store_rfm_get(mk_db, a, &cut)) == CRM_OK)
        rc = store_rfm_grid(mk_db, cells);
    if (rc != CRM_OK)
        return mk_db_error(r, rc);

    crm_buf_reset(b);
    crm_html_begin(b, r, "Dashboard", "dashboard");
    crm_buf_puts(b, "<h1>Dashboard</h1>\n<p class=\"muted\" id=\"dashboard-asof\">Figures as of ");
    crm_html_time(b, crm_api_iso(a, now));
    crm_buf_puts(b, " UTC.</p>\n");
    revenue_section(b, &rv);
    rfm_section(b, a, &cut, cells);
    if ((rc = roi_section(b, a)) != CRM_OK)
        return mk_db_error(r, rc);
    crm_html_end(b);
    return crm_html_send(r, 200, b);
}
