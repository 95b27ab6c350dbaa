/*
 * states.c - the order life cycle:
 *
 *   draft --confirm--> confirmed --fulfill--> fulfilled
 *     \                   |
 *      `--cancel--> cancelled <--cancel--'
 *
 * One table says which action leads where; everything else (409 bodies,
 * "may the lines change") is read from it.
 */
#include "sales.h"

#include <stdio.h>
#include <string.h>

static const char *const status_names[ORDER_NSTATUS] = { "draft", "confirmed", "fulfilled",
                                                         "cancelled" };
static const char *const action_names[ACT_N] = { "confirm", "fulfill", "cancel" };

/* next[from][action]: the status reached, or -1 when not allowed. */
static const int next[ORDER_NSTATUS][ACT_N] = {
    [ORDER_DRAFT] = { ORDER_CONFIRMED, -1, ORDER_CANCELLED },
    [ORDER_CONFIRMED] = { -1, ORDER_FULFILLED, ORDER_CANCELLED },
    [ORDER_FULFILLED] = { -1, -1, -1 },
    [ORDER_CANCELLED] = { -1, -1, -1 },
};

const char *order_status_name(order_status s)
{
    return (unsigned)s < ORDER_NSTATUS ? status_names[s] : "unknown";
}

int order_status_parse(const char *s, order_status *out)
{
    for (int i = 0; s != NULL && i < ORDER_NSTATUS; i++) {
        if (strcmp(s, status_names[i]) == 0) {
            *out = (order_status)i;
            return CRM_OK;
        }
    }
    return CRM_INVALID;
}

const char *order_action_name(order_action a)
{
    return (unsigned)a < ACT_N ? action_names[a] : "unknown";
}

int order_transition(order_status from, order_action act, order_status *to)
{
    if ((unsigned)from >= ORDER_NSTATUS || (unsigned)act >= ACT_N || next[from][act] < 0)
        return CRM_CONFLICT;
    *to = (order_status)next[from][act];
    return CRM_OK;
}

int order_editable(order_status s)
{
    return s == ORDER_DRAFT;
}

const char *order_conflict_members(crm_arena *a, order_status s)
{
    char buf[128];
    size_t n = 0;

    buf[0] = '\0';
    for (int act = 0; act < ACT_N && (unsigned)s < ORDER_NSTATUS; act++) {
        if (next[s][act] < 0)
            continue;
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"%s\"", n > 0 ? "," : "",
                              action_names[act]);
    }
    return crm_arena_printf(a, "\"order_status\":\"%s\",\"allowed\":[%s]", order_status_name(s),
                            buf);
}
