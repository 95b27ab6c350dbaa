/*
 * main.c - crm-sales: products, orders with their lines and stock, and the
 * sales summary. The route table below is the whole public surface of the
 * service.
 */
#include "sales.h"

#include "crm_service.h"

/* Everyone reads (a sales user only their own orders); sales users
   write their orders; the catalogue is the admins'. */
#define R CRM_ROLES_ALL
#define W CRM_ROLES_WRITE
#define A CRM_ROLE_ADMIN
/* The summary adds up every order: not for a sales user, who sees their own. */
#define S (CRM_ROLE_ADMIN | CRM_ROLE_MARKETING | CRM_ROLE_VIEWER)

static const crm_route routes[] = {
    { "GET", "/api/v1/sales/ping", sales_ping, CRM_ROLE_PUBLIC, "sales.ping" },
    { "GET", "/api/v1/sales/summary", sales_summary, S, "sales.summary" },
    { "GET", "/api/v1/products", products_list, R, "products.list" },
    { "POST", "/api/v1/products", products_create, A, "products.create" },
    { "GET", "/api/v1/products/{id}", products_get, R, "products.get" },
    { "PATCH", "/api/v1/products/{id}", products_patch, A, "products.patch" },
    { "PUT", "/api/v1/products/{id}", products_put, A, "products.put" },
    { "DELETE", "/api/v1/products/{id}", products_delete, A, "products.delete" },
    { "GET", "/api/v1/orders", orders_list, R, "orders.list" },
    { "POST", "/api/v1/orders", orders_create, W, "orders.create" },
    { "GET", "/api/v1/orders/{id}", orders_get, R, "orders.get" },
    { "PATCH", "/api/v1/orders/{id}", orders_patch, W, "orders.patch" },
    { "POST", "/api/v1/orders/{id}/lines", orders_lines_add, W, "orders.lines.add" },
    { "PUT", "/api/v1/orders/{id}/lines", orders_lines_replace, W, "orders.lines.replace" },
    { "GET", "/api/v1/orders/{id}/lines/{line_id}", orders_line_get, R, "orders.lines.get" },
    { "PATCH", "/api/v1/orders/{id}/lines/{line_id}", orders_line_patch, W, "orders.lines.patch" },
    { "DELETE", "/api/v1/orders/{id}/lines/{line_id}", orders_line_delete, W,
      "orders.lines.delete" },
    { "POST", "/api/v1/orders/{id}/confirm", orders_confirm, W, "orders.confirm" },
    { "POST", "/api/v1/orders/{id}/fulfill", orders_fulfill, W, "orders.fulfill" },
    { "POST", "/api/v1/orders/{id}/cancel", orders_cancel, W, "orders.cancel" },
    /* Pages for browsers (pages.c); their forms post to the routes above. */
    { "GET", "/products", products_page_list, R, "products.page_list" },
    { "GET", "/products/new", products_page_new, A, "products.page_new" },
    { "GET", "/products/{id}", products_page_show, R, "products.page_show" },
    { "GET", "/orders", orders_page_list, R, "orders.page_list" },
    { "GET", "/orders/new", orders_page_new, W, "orders.page_new" },
    { "GET", "/orders/{id}", orders_page_show, R, "orders.page_show" },
    /* Service-to-service, on NGINX's internal listener only. */
    { "POST", "/internal/v1/events", sales_events, CRM_ROLE_SERVICE, "events.receive" },
};

static const char *const subscribers[] = { "marketing", NULL };

static const crm_service service = {
    .name = "sales",
    .subscribers = subscribers,
    .routes = routes,
    .n_routes = CRM_NELEM(routes),
    .worker_init = sales_worker_init,
    .worker_done = sales_worker_done,
};

int main(int argc, char **argv)
{
    return crm_service_main(argc, argv, &service);
}
