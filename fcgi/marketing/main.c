/*
 * main.c - crm-marketing: campaigns, segments, and customer analytics
 * (metrics and RFM scores) built from the customers' and sales' events.
 * The route table below is the whole public surface of the service.
 */
#include "marketing.h"

#include "crm_service.h"

/* Campaigns and segments are the marketing team's (DESIGN.md §5). Sales
   users are not among the readers: segment members and analytics span
   every customer, and a sales user may only see their own. */
#define R (CRM_ROLE_ADMIN | CRM_ROLE_MARKETING | CRM_ROLE_VIEWER)
#define W MK_WRITERS

static const crm_route routes[] = {
    { "GET", "/api/v1/marketing/ping", marketing_ping, CRM_ROLE_PUBLIC, "marketing.ping" },
    { "GET", "/api/v1/campaigns", campaigns_list, R, "campaigns.list" },
    { "POST", "/api/v1/campaigns", campaigns_create, W, "campaigns.create" },
    { "GET", "/api/v1/campaigns/{id}", campaigns_get, R, "campaigns.get" },
    { "PATCH", "/api/v1/campaigns/{id}", campaigns_patch, W, "campaigns.patch" },
    { "DELETE", "/api/v1/campaigns/{id}", campaigns_delete, W, "campaigns.delete" },
    { "POST", "/api/v1/campaigns/{id}/schedule", campaigns_schedule, W, "campaigns.schedule" },
    { "POST", "/api/v1/campaigns/{id}/activate", campaigns_activate, W, "campaigns.activate" },
    { "POST", "/api/v1/campaigns/{id}/pause", campaigns_pause, W, "campaigns.pause" },
    { "POST", "/api/v1/campaigns/{id}/resume", campaigns_resume, W, "campaigns.resume" },
    { "POST", "/api/v1/campaigns/{id}/complete", campaigns_complete, W, "campaigns.complete" },
    { "GET", "/api/v1/segments", segments_list, R, "segments.list" },
    { "POST", "/api/v1/segments", segments_create, W, "segments.create" },
    /* before /segments/{id}: a literal segment wins over a parameter */
    { "POST", "/api/v1/segments/preview", segments_preview, R, "segments.preview" },
    { "GET", "/api/v1/segments/{id}", segments_get, R, "segments.get" },
    { "PATCH", "/api/v1/segments/{id}", segments_patch, W, "segments.patch" },
    { "DELETE", "/api/v1/segments/{id}", segments_delete, W, "segments.delete" },
    { "GET", "/api/v1/segments/{id}/members", segments_members, R, "segments.members" },
    { "GET", "/api/v1/analytics/customers/{id}", analytics_customer, R, "analytics.customer" },
    { "GET", "/api/v1/analytics/rfm", analytics_rfm, R, "analytics.rfm" },
    { "GET", "/api/v1/analytics/campaigns/{id}", analytics_campaign, R, "analytics.campaign" },
    /* Pages for browsers (pages.c, charts.c): the API's roles. */
    { "GET", "/campaigns", campaigns_page_list, R, "campaigns.page_list" },
    { "GET", "/campaigns/new", campaigns_page_new, W, "campaigns.page_new" },
    { "GET", "/campaigns/{id}", campaigns_page_show, R, "campaigns.page_show" },
    { "GET", "/segments", segments_page_list, R, "segments.page_list" },
    { "GET", "/segments/new", segments_page_new, W, "segments.page_new" },
    { "GET", "/segments/{id}", segments_page_show, R, "segments.page_show" },
    { "GET", "/dashboard", dashboard_page, R, "dashboard.page" },
    /* Service-to-service, on NGINX's internal listener only. */
    { "POST", "/internal/v1/events", marketing_events, CRM_ROLE_SERVICE, "events.receive" },
};

static const crm_service service = {
    .name = "marketing",
    .routes = routes,
    .n_routes = CRM_NELEM(routes),
    .sidecar = rfm_refresher_run,
    .sidecar_name = "rfm",
    .worker_init = marketing_worker_init,
    .worker_done = marketing_worker_done,
};

int main(int argc, char **argv)
{
    return crm_service_main(argc, argv, &service);
}
