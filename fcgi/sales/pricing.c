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

/*
 * ISO 4217 codes of money that can be invoiced (funds codes, precious
 * metals, test and "no currency" codes are left out), sorted for bsearch.
 */
static const char currencies[][4] = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
};

static int cmp_code(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int pricing_currency_valid(const char *code)
{
    if (code == NULL || strlen(code) != 3)
        return 0;
    return bsearch(code, currencies, CRM_NELEM(currencies), sizeof(currencies[0]), cmp_code) !=
           NULL;
}
