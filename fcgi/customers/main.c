/*
 * main.c - crm-customers: customers and their activity timeline.
 * The route table below is the whole public surface of the service.
 */
#include "customers.h"

#include "crm_service.h"

#define R CRM_ROLES_ALL
#define W CRM_ROLES_WRITE

static const crm_route routes[] = {
    { "GET", "/api/v1/customers/ping", customers_ping, CRM_ROLE_PUBLIC, "customers.ping" },
    { "GET", "/api/v1/customers", customers_list, R, "customers.list" },
    { "POST", "/api/v1/customers", customers_create, W, "customers.create" },
    { "GET", "/api/v1/customers/{id}", customers_get, R, "customers.get" },
    { "PATCH", "/api/v1/customers/{id}", customers_patch, W, "customers.patch" },
    { "PUT", "/api/v1/customers/{id}", customers_put, W, "customers.put" },
    { "DELETE", "/api/v1/customers/{id}", customers_delete, W, "customers.delete" },
    { "GET", "/api/v1/customers/{id}/notes", customers_notes_list, R, "notes.list" },
    { "POST", "/api/v1/customers/{id}/notes", customers_notes_create, W, "notes.create" },
    { "GET", "/api/v1/customers/{id}/notes/{note_id}", customers_notes_get, R, "notes.get" },
    { "DELETE", "/api/v1/customers/{id}/notes/{note_id}", customers_notes_delete, W,
      "notes.delete" },
    /* Pages for browsers (pages.c); {id} is digits only, so "new" is not one. */
    { "GET", "/customers", customers_page_list, R, "customers.page_list" },
    { "GET", "/customers/new", customers_page_new, W, "customers.page_new" },
    { "GET", "/customers/{id}", customers_page_show, R, "customers.page_show" },
    { "GET", "/customers/{id}/edit", customers_page_edit, W, "customers.page_edit" },
    /* Service-to-service, on NGINX's internal listener only. */
    { "GET", "/internal/v1/customers/{id}", customers_internal_get, CRM_ROLE_SERVICE,
      "customers.internal_get" },
};

/* Who receives customers' events (customer.created|updated|deleted). */
static const char *const subscribers[] = { "sales", "marketing", NULL };

static const crm_service service = {
    .name = "customers",
    .subscribers = subscribers,
    .routes = routes,
    .n_routes = CRM_NELEM(routes),
    .worker_init = customers_worker_init,
    .worker_done = customers_worker_done,
};

int main(int argc, char **argv)
{
    return crm_service_main(argc, argv, &service);
}
