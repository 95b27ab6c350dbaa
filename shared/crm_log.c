/*
 * crm_log.c - JSON lines on stderr.
 *
 * Each line is built in a fixed buffer and leaves in one write(2). The
 * buffer is PIPE_BUF bytes: a write of at most PIPE_BUF bytes to a pipe is
 * atomic, so lines of the supervisor and all its workers sharing one
 * stderr pipe (containers, systemd) never interleave. Longer messages are
 * cut at a UTF-8 character boundary and the line says "truncated":true.
 *
 * Messages are escaped for JSON; valid UTF-8 is kept as is, invalid bytes
 * become U+FFFD so that every line stays valid JSON for log shippers.
 * errno is preserved, so callers may log before they look at it.
 */
#include "crm_log.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES PIPE_BUF
#define SERVICE_MAX    64
#define REQID_MAX      128

static char log_service[SERVICE_MAX] = "crm";
static int log_min = CRM_LOG_INFO;
static char log_reqid[REQID_MAX];

static const char *const level_names[] = { "debug", "info", "warn", "error" };

/* Copy at most cap-1 bytes of s, never ending inside a UTF-8 sequence. */
static void copy_capped(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

void crm_log_init(const char *service, int min_level)
{
    copy_capped(log_service, sizeof(log_service), service != NULL ? service : "crm");
    if (min_level < CRM_LOG_DEBUG)
        min_level = CRM_LOG_DEBUG;
    if (min_level > CRM_LOG_ERROR)
        min_level = CRM_LOG_ERROR;
    log_min = min_level;
}

int crm_log_level(const char *name)
{
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < CRM_NELEM(level_names); i++)
        if (strcmp(name, level_names[i]) == 0)
            return (int)i;
    return -1;
}

void crm_log_set_request(const char *request_id)
{
    if (request_id == NULL)
        log_reqid[0] = '\0';
    else
        copy_capped(log_reqid, sizeof(log_reqid), request_id);
}

/* Output cursor over the line buffer. */
typedef struct {
    char *p;
    char *end; /* writing stops here */
} cursor;

static int put(cursor *c, const char *s, size_t n)
{
    if ((size_t)(c->end - c->p) < n)
        return CRM_TOOBIG;
    memcpy(c->p, s, n);
    c->p += n;
    return CRM_OK;
}

static int puts_(cursor *c, const char *s)
{
    return put(c, s, strlen(s));
}

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes available), or
 * 0 when the bytes there are not one (bad lead, bad continuation, overlong,
 * surrogate, beyond U+10FFFF, or cut short).
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, min = 0x80, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, min = 0x800, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/*
 * Escape s[0..n) as the inside of a JSON string. Stops before a character
 * that does not fit whole; returns CRM_TOOBIG then, CRM_OK otherwise.
 */
static int put_escaped(cursor *c, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned char ch = u[i];
        char esc[8];
        size_t len = 1;
        int rc;

        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            rc = put(c, esc, 2);
        } else if (ch < 0x20) {
            switch (ch) {
            case '\n':
                rc = put(c, "\\n", 2);
                break;
            case '\r':
                rc = put(c, "\\r", 2);
                break;
            case '\t':
                rc = put(c, "\\t", 2);
                break;
            default:
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[ch >> 4];
                esc[5] = hex[ch & 15];
                rc = put(c, esc, 6);
            }
        } else if (ch == 0x7F) {
            rc = put(c, "\\u007f", 6);
        } else if (ch < 0x80) {
            rc = put(c, (const char *)&u[i], 1);
        } else {
            len = utf8_len(&u[i], n - i);
            if (len == 0) {
                len = 1;
                rc = put(c, "\\ufffd", 6);
            } else {
                rc = put(c, (const char *)&u[i], len);
            }
        }
        if (rc != CRM_OK)
            return CRM_TOOBIG;
        i += len;
    }
    return CRM_OK;
}

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere else to report it */
        p += w;
        n -= (size_t)w;
    }
}

void crm_log(int level, const char *fmt, ...)
{
    static const char tail_trunc[] = "\",\"truncated\":true}\n";
    static const char tail[] = "\"}\n";
    char line[LINE_MAX_BYTES];
    char msg[LINE_MAX_BYTES];
    char head[64];
    int saved_errno = errno;

    if (level < log_min)
        return;
    if (level < CRM_LOG_DEBUG || level > CRM_LOG_ERROR)
        level = CRM_LOG_ERROR;

    va_list ap;
    va_start(ap, fmt);
    int mlen = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (mlen < 0) {
        copy_capped(msg, sizeof(msg), "(unformattable log message)");
        mlen = (int)strlen(msg);
    }
    int truncated = (size_t)mlen >= sizeof(msg);
    size_t msg_n = truncated ? sizeof(msg) - 1 : (size_t)mlen;
    if (truncated) {
        /* vsnprintf may have cut a character in two: drop its start. */
        size_t j = msg_n;
        while (j > 0 && msg_n - j < 3 && ((unsigned char)msg[j - 1] & 0xC0) == 0x80)
            j--;
        if (j > 0 && (unsigned char)msg[j - 1] >= 0xC0 &&
            utf8_len((const unsigned char *)&msg[j - 1], msg_n - (j - 1)) == 0)
            msg_n = j - 1;
    }

    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t hn = strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(head + hn, sizeof(head) - hn, ".%03ldZ", ts.tv_nsec / 1000000L);

    /* Room is kept for the longest tail, so the line always closes. */
    cursor c = { line, line + sizeof(line) - (sizeof(tail_trunc) - 1) };
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());

    puts_(&c, "{\"ts\":\"");
    puts_(&c, head);
    puts_(&c, "\",\"level\":\"");
    puts_(&c, level_names[level]);
    puts_(&c, "\",\"service\":\"");
    put_escaped(&c, log_service, strlen(log_service));
    puts_(&c, "\",\"pid\":");
    puts_(&c, pid);
    if (log_reqid[0] != '\0') {
        puts_(&c, ",\"request_id\":\"");
        put_escaped(&c, log_reqid, strlen(log_reqid));
        puts_(&c, "\"");
    }
    puts_(&c, ",\"msg\":\"");
    if (put_escaped(&c, msg, msg_n) != CRM_OK)
        truncated = 1;

    /* The reserve left above always fits either tail. */
    c.end = line + sizeof(line);
    if (truncated)
        put(&c, tail_trunc, sizeof(tail_trunc) - 1);
    else
        put(&c, tail, sizeof(tail) - 1);

    write_all(line, (size_t)(c.p - line));
    errno = saved_errno;
}
