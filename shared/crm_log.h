/*
 * crm_log.h - one JSON object per line on stderr:
 * {"ts":"2026-11-27T12:00:00.123Z","level":"error","service":"customers",
 *  "pid":123,"request_id":"...","msg":"..."}
 * The request id is the one set for the request in hand, if any.
 */
#ifndef CRM_LOG_H
#define CRM_LOG_H

#include "crm.h"

enum { CRM_LOG_DEBUG, CRM_LOG_INFO, CRM_LOG_WARN, CRM_LOG_ERROR };

void crm_log_init(const char *service, int min_level);
/* Parse "debug" | "info" | "warn" | "error"; -1 when unknown. */
int crm_log_level(const char *name);
/* Request id for the lines that follow (copied), NULL to clear. */
void crm_log_set_request(const char *request_id);

void crm_log(int level, const char *fmt, ...) CRM_PRINTF(2, 3);

#define crm_log_debug(...) crm_log(CRM_LOG_DEBUG, __VA_ARGS__)
#define crm_log_info(...)  crm_log(CRM_LOG_INFO, __VA_ARGS__)
#define crm_log_warn(...)  crm_log(CRM_LOG_WARN, __VA_ARGS__)
#define crm_log_error(...) crm_log(CRM_LOG_ERROR, __VA_ARGS__)

#endif
