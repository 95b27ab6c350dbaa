/*
 * pricing.c - money arithmetic of the sales service. Amounts are integer
 * minor units; every amount stored or sent stays within [0, MONEY_MAX] so
 * that JSON clients (doubles) read it exactly, and a result that would
 * leave that range is refused rather than wrapped.
 */
#include "sales.h"

#include <stdlib.h>
#include <string.h>

int pricing_line_total(int64_t unit_price, int64_t quantity, int64_t *out)
{
    int64_t t;

    if (unit_price < 0 || unit_price > MONEY_MAX || quantity < 1 || quantity > QUANTITY_MAX)
        return CRM_INVALID;
    if (__builtin_mul_overflow(unit_price, quantity, &t) || t > MONEY_MAX)
        return CRM_TOOBIG;
    *out = t;
    return CRM_OK;
}

int pricing_add(int64_t total, int64_t amount, int64_t *out)
{
    int64_t t;

    if (total < 0 || amount < 0)
        return CRM_INVALID;
    if (__builtin_add_overflow(total, amount, &t) || t > MONEY_MAX)
        return CRM_TOOBIG;
    *out = t;
    return CRM_OK;
}
