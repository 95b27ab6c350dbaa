/*
 * crm_field.c - lookups over the parsed body view.
 */
#include "crm_field.h"

#include <string.h>

const crm_field *crm_fields_get(const crm_fields *fs, const char *name)
{
    if (fs == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < fs->n; i++)
        if (fs->items[i].name != NULL && strcmp(fs->items[i].name, name) == 0)
            return &fs->items[i];
    return NULL;
}
