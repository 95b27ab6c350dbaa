/*
 * noauth_customers.c - crm-customers with every user route public, for
 * one purpose: `make bench` runs GET /api/v1/customers/{id} against it and
 * against the real service in the same run, so that the cost of checking
 * access tokens is measured rather than guessed. Same handlers, same
 * database, same NGINX and TLS; only crm_auth's check is skipped. Built
 * into build/.../bench/ by `make bench`, never installed or run otherwise.
 */
int crm_customers_main(int argc, char **argv);
#define main crm_customers_main
#include "../../fcgi/customers/main.c"
#undef main

int main(int argc, char **argv)
{
    static crm_route open[CRM_NELEM(routes)];
    crm_service s = service;

    for (size_t i = 0; i < CRM_NELEM(routes); i++) {
        open[i] = routes[i];
        if (!(open[i].roles & CRM_ROLE_SERVICE))
            open[i].roles = CRM_ROLE_PUBLIC;
    }
    s.routes = open;
    return crm_service_main(argc, argv, &s);
}
