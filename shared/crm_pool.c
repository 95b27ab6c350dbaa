/*
 * crm_pool.c - the supervisor and its workers.
 *
 * Supervisor: binds the FastCGI socket, maps the metrics, starts the admin
 * port, forks the workers and then only watches: one poll() over a
 * self-pipe (signal handlers write a byte to it and do nothing else) and
 * the admin port's descriptor. Dead workers are reaped and replaced; one
 * that keeps failing early is replaced after a growing delay so that a
 * dead database does not turn into a fork storm.
 *
 * Worker: loops on FCGX_Accept_r. SIGTERM stays blocked except around the
 * accept, so a request in hand is never interrupted; the handler only sets
 * a flag and, installed without SA_RESTART, makes a blocked accept fail
 * with EINTR. A SIGTERM that lands between the flag check and the accept
 * is not lost for long: the supervisor repeats it every 250 ms.
 *
 * Sidecar (optional): one more child, forked after the workers, that runs
 * spec->sidecar instead of an accept loop. It drops the listening socket
 * and the admin port, keeps SIGTERM unblocked (the same handler and flag
 * as a worker's, read through crm_pool_stopping()) and is replaced like a
 * crashed worker whenever it ends outside a drain, whatever its status:
 * it is meant to run for the pool's whole life. It is not a worker: no
 * metrics slot, not in crm_workers or the restart counters, no recycling.
 *
 * Drain (SIGTERM/SIGINT to the supervisor): /readyz turns 503, the unix
 * socket's name is removed so nobody new can connect, workers and the
 * sidecar get SIGTERM, workers serve what is already queued on the socket
 * and exit 0. Whoever is still alive after drain_seconds (sidecar
 * included) is killed and the supervisor exits 1.
 *
 * This file and crm_req.c are the only ones that know about libfcgi: the
 * pool owns the accept loop, crm_req.c the request.
 */
#include "crm_pool.h"
#include "crm_log.h"
#include "crm_metrics.h"
#include "crm_problem.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ARENA_BLOCK      (64 * 1024)
#define TERM_REPEAT_MS   250    /* SIGTERM again to workers still alive */
#define DRAIN_ALARM_US   100000 /* drain: how long an accept may block */
#define BACKOFF_MAX_S    30
#define EARLY_DEATH_MS   1000  /* a crash sooner than this after start backs off */
#define BACKOFF_RESET_MS 30000 /* a worker that lived this long resets it */
#define MAX_WORKERS      256

typedef struct {
    pid_t pid;            /* 0: slot empty */
    long long started_ms; /* when forked */
    long long due_ms;     /* empty slot: when to fork again */
    int backoff_s;        /* last delay used, 0 = none */
} worker;                 /* also the sidecar's bookkeeping */

typedef struct {
    const crm_pool_spec *spec;
    int listen_fd;
    char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    dev_t unix_dev; /* identity of the socket file we made */
    ino_t unix_ino;
    worker *w;
    int n;
    worker side; /* used only when spec->sidecar is set */
    int draining;
    long long deadline_ms;
    long long next_term_ms;
} pool;

/* Supervisor signal state. */
static volatile sig_atomic_t sup_term;
static int self_pipe[2] = { -1, -1 };

/* Worker and sidecar signal state. */
static volatile sig_atomic_t worker_term;
static pid_t supervisor_pid; /* a worker's parent */

static const char **route_names; /* borrowed by crm_metrics for the process's life */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- one request ---- */

void crm_pool_handle(const crm_pool_spec *spec, crm_arena *arena, const crm_req_io *io, void *ctx)
{
    size_t body_max = 1048576;
    struct timespec t0, t1;

    if (spec->conf != NULL && spec->conf->body_max > 0)
        body_max = (size_t)spec->conf->body_max;
    crm_req *r = crm_req_new(arena, io, ctx, body_max);
    crm_log_set_request(crm_req_id(r));
    crm_metrics_inflight(+1);
    clock_gettime(CLOCK_MONOTONIC, &t0);

    crm_router_dispatch(spec->routes, spec->n_routes, r);
    if (crm_res_status(r) == 0) {
        crm_log_error("no response from the handler of %s %s; sending 500", crm_req_method(r),
                      crm_req_path(r));
        crm_problem(r, 500, NULL);
    }
    int status = crm_res_status(r);
    int route = crm_req_route(r);
    crm_req_finish(r);

    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    crm_metrics_request(route, status, seconds);
    crm_metrics_inflight(-1);
    crm_log_debug("%s %s %d %.3f ms", crm_req_method(r), crm_req_path(r), status, seconds * 1e3);
    crm_log_set_request(NULL);
    crm_arena_reset(arena);
}

/* ---- worker ---- */

static void on_worker_term(int sig)
{
    (void)sig;
    worker_term = 1;
}

static void on_alarm(int sig)
{
    (void)sig; /* only here to interrupt a blocked accept */
}

static void set_handler(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* Arm (interval_us > 0) or disarm the repeating drain alarm. */
static void drain_alarm(long interval_us)
{
    struct itimerval it;
    memset(&it, 0, sizeof(it));
    it.it_value.tv_usec = interval_us;
    it.it_interval.tv_usec = interval_us; /* repeats: a signal that comes early is not the last */
    setitimer(ITIMER_REAL, &it, NULL);
}

CRM_NORETURN static void worker_exit(const crm_pool_spec *spec, int status)
{
    if (spec->worker_done != NULL)
        spec->worker_done();
    /* _exit: the supervisor's atexit handlers and stdio are not ours to run. */
    _exit(status);
}

/*
 * Serve the connections already queued, then exit 0. A blocking accept is
 * cut short by the alarm when a sibling took the connection we saw.
 */
CRM_NORETURN static void worker_drain(const crm_pool_spec *spec, crm_arena *arena,
                                      FCGX_Request *req, int listen_fd)
{
    long served = 0;

    for (;;) {
        /* A kept-alive connection (fastcgi_keep_conn) may hold the next request. */
        int kept = req->ipcFd >= 0;
        struct pollfd p = { .fd = kept ? req->ipcFd : listen_fd, .events = POLLIN };
        int n = poll(&p, 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!kept)
                break;
            FCGX_Free(req, 1); /* idle: close it and look at the socket */
            continue;
        }
        drain_alarm(DRAIN_ALARM_US);
        int rc = FCGX_Accept_r(req);
        drain_alarm(0);
        if (rc < 0) {
            if (rc == -EINTR)
                continue;
            crm_log_error("accept while draining failed: %s",
                          rc > -4096 ? strerror(-rc) : "libfcgi error");
            break;
        }
        crm_pool_handle(spec, arena, &crm_req_fcgi_io, req);
        FCGX_Finish_r(req);
        served++;
    }
    crm_log_debug("worker drained (%ld queued requests served)", served);
    worker_exit(spec, 0);
}

CRM_NORETURN static void worker_main(const crm_pool_spec *spec, int slot, int listen_fd)
{
    const crm_config *conf = spec->conf;
    sigset_t term;
    FCGX_Request req;

    /* Drop what belongs to the supervisor. */
    close(self_pipe[0]);
    close(self_pipe[1]);
    self_pipe[0] = self_pipe[1] = -1;
    crm_admin_stop();

    /*
     * Signals: SIGTERM starts the drain; SIGINT (a terminal's Ctrl-C
     * reaches the whole process group) is the supervisor's to handle;
     * SIGPIPE would kill us when nginx gives up on a request.
     */
    set_handler(SIGTERM, on_worker_term, 0);
    set_handler(SIGALRM, on_alarm, 0);
    set_handler(SIGINT, SIG_IGN, 0);
    set_handler(SIGPIPE, SIG_IGN, 0);
    set_handler(SIGCHLD, SIG_DFL, 0);
    set_handler(SIGHUP, SIG_DFL, 0);
    set_handler(SIGUSR1, SIG_DFL, 0); /* not libfcgi's: it would stop accept for good */
    worker_term = 0;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
#ifdef __linux__
    /* A supervisor killed outright (OOM) must not leave workers unsupervised. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != supervisor_pid)
        worker_term = 1;
#endif
    sigprocmask(SIG_SETMASK, &term, NULL); /* everything else unblocked */

    crm_metrics_attach(slot);
    if (spec->worker_init != NULL && spec->worker_init(conf) != CRM_OK) {
        crm_log_error("worker init failed; exiting");
        _exit(1);
    }
    crm_arena *arena = crm_arena_new(ARENA_BLOCK);
    if (FCGX_InitRequest(&req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        crm_log_error("FCGX_InitRequest failed");
        worker_exit(spec, 1);
    }

    long served = 0;
    for (;;) {
        sigprocmask(SIG_UNBLOCK, &term, NULL);
        if (worker_term) {
            sigprocmask(SIG_BLOCK, &term, NULL);
            break;
        }
        int rc = FCGX_Accept_r(&req);
        sigprocmask(SIG_BLOCK, &term, NULL);
        if (rc < 0) {
            if (worker_term)
                break;
            if (rc == -EINTR)
                continue; /* some other signal */
            crm_log_error("accept failed: %s", rc > -4096 ? strerror(-rc) : "libfcgi error");
            worker_exit(spec, 1);
        }
        crm_pool_handle(spec, arena, &crm_req_fcgi_io, &req);
        FCGX_Finish_r(&req);
        if (conf->max_requests > 0 && ++served >= conf->max_requests)
            worker_exit(spec, 0); /* recycled */
    }
    worker_drain(spec, arena, &req, listen_fd);
}

int crm_pool_stopping(void)
{
    sigset_t pending;

    if (worker_term)
        return 1;
    /* A worker keeps SIGTERM blocked while it has a request in hand. */
    return sigpending(&pending) == 0 && sigismember(&pending, SIGTERM) == 1;
}

static const char *sidecar_name(const crm_pool_spec *spec)
{
    return spec->sidecar_name != NULL ? spec->sidecar_name : "sidecar";
}

/* ---- sidecar ---- */

CRM_NORETURN static void sidecar_main(const crm_pool_spec *spec, int listen_fd)
{
    sigset_t none;

    /* Drop what belongs to the supervisor and the workers. */
    close(self_pipe[0]);
    close(self_pipe[1]);
    self_pipe[0] = self_pipe[1] = -1;
    crm_admin_stop();
    if (listen_fd >= 0)
        close(listen_fd);
    crm_metrics_attach(-1); /* no slot: request metrics are the workers' */

    /*
     * As a worker, but SIGTERM is never blocked: there is no request in
     * hand to protect, and the loop must see the flag within its 100 ms.
     * SA_RESTART: library reads and writes are not cut short by it, while
     * poll() and sleeps still return early (they are never restarted).
     */
    set_handler(SIGTERM, on_worker_term, SA_RESTART);
    set_handler(SIGALRM, SIG_DFL, 0);
    set_handler(SIGINT, SIG_IGN, 0);
    set_handler(SIGPIPE, SIG_IGN, 0);
    set_handler(SIGCHLD, SIG_DFL, 0);
    set_handler(SIGHUP, SIG_DFL, 0);
    set_handler(SIGUSR1, SIG_DFL, 0);
    worker_term = 0;
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != supervisor_pid)
        worker_term = 1;
#endif
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    int status = spec->sidecar(spec->conf);
    crm_log_debug("%s returned %d", sidecar_name(spec), status);
    _exit(status);
}

/* ---- listening socket ---- */

/*
 * A stale socket file (left by a crash) is removed; a live one, or a file
 * that is not a socket, is an error rather than something to delete.
 */
static int prepare_unix_path(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? CRM_OK : CRM_ERR;
    if (!S_ISSOCK(st.st_mode)) {
        crm_log_error("%s exists and is not a socket", path);
        return CRM_ERR;
    }
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return CRM_ERR;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int live = connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(s);
    if (live) {
        crm_log_error("%s is in use by another process", path);
        return CRM_ERR;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        crm_log_error("cannot remove stale socket %s: %s", path, strerror(errno));
        return CRM_ERR;
    }
    return CRM_OK;
}

static int listen_unix(pool *p, const char *path, int backlog)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd = -1;

    if (strlen(path) >= sizeof(sa.sun_path) || *path == '\0') {
        crm_log_error("unix socket path too long: %s", path);
        return -1;
    }
    if (prepare_unix_path(path) != CRM_OK)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        crm_log_error("cannot bind %s: %s", path, strerror(errno));
        goto fail;
    }
    /* nginx may run as another user: let it connect. */
    if (chmod(path, 0666) != 0 || stat(path, &st) != 0 || listen(fd, backlog) != 0) {
        crm_log_error("cannot listen on %s: %s", path, strerror(errno));
        unlink(path);
        goto fail;
    }
    snprintf(p->unix_path, sizeof(p->unix_path), "%s", path);
    p->unix_dev = st.st_dev;
    p->unix_ino = st.st_ino;
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

/* "host:port", ":port", "*:port" or "[v6]:port". */
static int listen_tcp(const char *spec, int backlog)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    struct addrinfo hints, *res = NULL;
    int fd = -1;

    if (colon == NULL || (size_t)(colon - spec) >= sizeof(host)) {
        crm_log_error("bad listen address %s", spec);
        return -1;
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    if (*h == '\0' || strcmp(h, "*") == 0)
        h = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(h, colon + 1, &hints, &res);
    if (gai != 0) {
        crm_log_error("cannot resolve %s: %s", spec, gai_strerror(gai));
        return -1;
    }
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int one = 1;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
            break;
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        crm_log_error("cannot listen on %s: %s", spec, strerror(errno));
    freeaddrinfo(res);
    return fd;
}

static int open_listener(pool *p, const char *spec, int backlog)
{
    if (strncmp(spec, "unix:", 5) == 0)
        return listen_unix(p, spec + 5, backlog);
    return listen_tcp(spec, backlog);
}

/* Remove the socket's name if it is still the file we made. */
static void unlink_unix(pool *p)
{
    struct stat st;
    if (p->unix_path[0] == '\0')
        return;
    if (stat(p->unix_path, &st) == 0 && st.st_dev == p->unix_dev && st.st_ino == p->unix_ino)
        unlink(p->unix_path);
    p->unix_path[0] = '\0';
}

/* ---- supervisor ---- */

static void on_sup_signal(int sig)
{
    int saved = errno;
    if (sig == SIGTERM || sig == SIGINT)
        sup_term = 1;
    if (self_pipe[1] >= 0) {
        ssize_t w = write(self_pipe[1], "", 1);
        (void)w; /* a full pipe already says "wake up" */
    }
    errno = saved;
}

/* Workers alive (the sidecar is not one). */
static int alive(const pool *p)
{
    int n = 0;
    for (int i = 0; i < p->n; i++)
        n += p->w[i].pid != 0;
    return n;
}

/* Fork the worker for slot, or the sidecar. The child's pid, or -1 (errno set). */
static pid_t fork_child(pool *p, int slot, int is_sidecar)
{
    sigset_t all, old;

    /* Blocked across fork: the child must not run our handlers. */
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    supervisor_pid = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        if (is_sidecar)
            sidecar_main(p->spec, p->listen_fd);
        worker_main(p->spec, slot, p->listen_fd);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return pid;
}

static void spawn(pool *p, int slot)
{
    worker *w = &p->w[slot];
    pid_t pid = fork_child(p, slot, 0);
    if (pid < 0) {
        crm_log_error("fork failed: %s; retrying in 1 s", strerror(errno));
        w->due_ms = now_ms() + 1000;
        return;
    }
    w->pid = pid;
    w->started_ms = now_ms();
    crm_log_debug("worker started: pid=%ld slot=%d", (long)pid, slot);
}

static void spawn_sidecar(pool *p)
{
    pid_t pid = fork_child(p, -1, 1);
    if (pid < 0) {
        crm_log_error("fork failed: %s; retrying in 1 s", strerror(errno));
        p->side.due_ms = now_ms() + 1000;
        return;
    }
    p->side.pid = pid;
    p->side.started_ms = now_ms();
    crm_log_info("%s started: pid=%ld", sidecar_name(p->spec), (long)pid);
}

/*
 * When to fork again after an unplanned death (st from waitpid): at once,
 * unless it failed its init (exit 1) or died young, then after a delay
 * that doubles up to BACKOFF_MAX_S and resets once a life is long enough.
 */
static void schedule_restart(worker *w, int st, long long now)
{
    if (now - w->started_ms >= BACKOFF_RESET_MS)
        w->backoff_s = 0;
    int init_failed = WIFEXITED(st) && WEXITSTATUS(st) == 1;
    if (init_failed || now - w->started_ms < EARLY_DEATH_MS) {
        w->backoff_s = w->backoff_s == 0 ? 1 : w->backoff_s * 2;
        if (w->backoff_s > BACKOFF_MAX_S)
            w->backoff_s = BACKOFF_MAX_S;
        w->due_ms = now + w->backoff_s * 1000LL;
    } else {
        w->due_ms = now;
    }
}

/* The sidecar ended: log it, and outside a drain, schedule its restart. */
static void reap_sidecar(pool *p, pid_t pid, int st)
{
    const char *name = sidecar_name(p->spec);
    long long now = now_ms();

    p->side.pid = 0;
    /* A dead relay delivers nothing, whatever it last said. */
    crm_metrics_relay_gone();
    if (p->draining) {
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
            crm_log_warn("%s exited while draining: pid=%ld status=%d signal=%d", name, (long)pid,
                         WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        return;
    }
    /* Even a clean exit: it is meant to run as long as the pool. */
    schedule_restart(&p->side, st, now);
    if (WIFSIGNALED(st))
        crm_log_error("%s exited: pid=%ld signal=%d (%s); restarting in %d s", name, (long)pid,
                      WTERMSIG(st), strsignal(WTERMSIG(st)), (int)((p->side.due_ms - now) / 1000));
    else
        crm_log_error("%s exited: pid=%ld status=%d; restarting in %d s", name, (long)pid,
                      WIFEXITED(st) ? WEXITSTATUS(st) : -1, (int)((p->side.due_ms - now) / 1000));
}

static void reap(pool *p)
{
    int st;
    pid_t pid;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        if (p->side.pid != 0 && pid == p->side.pid) {
            reap_sidecar(p, pid, st);
            continue;
        }
        int i = 0;
        while (i < p->n && p->w[i].pid != pid)
            i++;
        if (i == p->n)
            continue; /* not one of ours */
        worker *w = &p->w[i];
        long long now = now_ms();
        int clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        w->pid = 0;

        if (p->draining) {
            if (!clean)
                crm_log_warn("worker exited while draining: pid=%ld status=%d signal=%d", (long)pid,
                             WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                             WIFSIGNALED(st) ? WTERMSIG(st) : 0);
            continue;
        }
        if (clean) {
            crm_log_info("worker recycled: pid=%ld slot=%d", (long)pid, i);
            crm_metrics_restart(i, "recycle");
            w->backoff_s = 0;
            w->due_ms = now;
            continue;
        }
        schedule_restart(w, st, now);
        if (WIFSIGNALED(st))
            crm_log_error("worker exited: pid=%ld slot=%d signal=%d (%s); replacing in %d s",
                          (long)pid, i, WTERMSIG(st), strsignal(WTERMSIG(st)),
                          (int)((w->due_ms - now) / 1000));
        else
            crm_log_error("worker exited: pid=%ld slot=%d status=%d; replacing in %d s", (long)pid,
                          i, WIFEXITED(st) ? WEXITSTATUS(st) : -1, (int)((w->due_ms - now) / 1000));
        crm_metrics_restart(i, "crash");
    }
}

/* Workers and the sidecar. */
static void signal_children(pool *p, int sig)
{
    for (int i = 0; i < p->n; i++)
        if (p->w[i].pid != 0)
            kill(p->w[i].pid, sig);
    if (p->side.pid != 0)
        kill(p->side.pid, sig);
}

static void start_drain(pool *p)
{
    long long now = now_ms();

    p->draining = 1;
    p->deadline_ms = now + p->spec->conf->drain_seconds * 1000LL;
    p->next_term_ms = now + TERM_REPEAT_MS;
    crm_admin_set_draining(1);
    unlink_unix(p);
    /* The workers hold their own copies; ours only kept the socket open. */
    close(p->listen_fd);
    p->listen_fd = -1;
    if (p->side.pid != 0)
        crm_log_info("draining: %d workers and the %s, %ld s deadline", alive(p),
                     sidecar_name(p->spec), p->spec->conf->drain_seconds);
    else
        crm_log_info("draining: %d workers, %ld s deadline", alive(p),
                     p->spec->conf->drain_seconds);
    signal_children(p, SIGTERM);
}

/* Kill what is left after the deadline and wait for it. */
static void kill_stragglers(pool *p)
{
    if (p->side.pid != 0)
        crm_log_error("drain deadline passed; killing %d workers and the %s (pid=%ld)", alive(p),
                      sidecar_name(p->spec), (long)p->side.pid);
    else
        crm_log_error("drain deadline passed; killing %d workers", alive(p));
    signal_children(p, SIGKILL);
    for (int i = 0; i < p->n; i++) {
        if (p->w[i].pid == 0)
            continue;
        while (waitpid(p->w[i].pid, NULL, 0) < 0 && errno == EINTR)
            ;
        p->w[i].pid = 0;
    }
    if (p->side.pid != 0) {
        while (waitpid(p->side.pid, NULL, 0) < 0 && errno == EINTR)
            ;
        p->side.pid = 0;
    }
}

static int min_timeout(int a, long long b)
{
    if (b < 0)
        b = 0;
    if (a < 0 || b < a)
        return (int)b;
    return a;
}

static void supervise(pool *p, int *exit_status)
{
    for (;;) {
        long long now = now_ms();
        int timeout = 1000;

        if (!p->draining) {
            for (int i = 0; i < p->n; i++) {
                if (p->w[i].pid == 0 && p->w[i].due_ms <= now)
                    spawn(p, i);
                if (p->w[i].pid == 0)
                    timeout = min_timeout(timeout, p->w[i].due_ms - now);
            }
            /* After the workers, so that a first start finds them forked. */
            if (p->spec->sidecar != NULL && p->side.pid == 0) {
                if (p->side.due_ms <= now)
                    spawn_sidecar(p);
                else
                    timeout = min_timeout(timeout, p->side.due_ms - now);
            }
        } else {
            timeout = min_timeout(timeout, p->next_term_ms - now);
            timeout = min_timeout(timeout, p->deadline_ms - now);
        }
        crm_metrics_workers(alive(p));
        int at = crm_admin_timeout_ms();
        if (at >= 0)
            timeout = min_timeout(timeout, at);

        struct pollfd fds[2] = { { .fd = self_pipe[0], .events = POLLIN },
                                 { .fd = crm_admin_fd(), .events = POLLIN } };
        int nfds = fds[1].fd >= 0 ? 2 : 1;
        if (poll(fds, (nfds_t)nfds, timeout) < 0 && errno != EINTR)
            crm_log_error("poll: %s", strerror(errno));
        if (fds[0].revents & POLLIN) {
            char buf[64];
            while (read(self_pipe[0], buf, sizeof(buf)) > 0)
                ;
        }
        crm_admin_run();
        reap(p);

        if (sup_term && !p->draining)
            start_drain(p);
        if (p->draining) {
            now = now_ms();
            if (alive(p) == 0 && p->side.pid == 0) {
                crm_log_info("drained; exiting");
                *exit_status = 0;
                return;
            }
            if (now >= p->deadline_ms) {
                kill_stragglers(p);
                *exit_status = 1;
                return;
            }
            if (now >= p->next_term_ms) {
                signal_children(p, SIGTERM);
                p->next_term_ms = now + TERM_REPEAT_MS;
            }
        }
    }
}

int crm_pool_run(const crm_pool_spec *spec)
{
    const crm_config *conf = spec->conf;
    struct sigaction old_term, old_int, old_chld, old_pipe;
    int installed = 0;
    int status = 1;
    pool p;

    memset(&p, 0, sizeof(p));
    p.spec = spec;
    p.listen_fd = -1;
    int level = crm_log_level(conf->log_level);
    crm_log_init(conf->service, level < 0 ? CRM_LOG_INFO : level);

    long n = conf->workers;
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = 2 * (cores > 0 ? cores : 1);
    }
    if (n > MAX_WORKERS)
        n = MAX_WORKERS;
    p.n = (int)n;
    p.w = crm_xcalloc((size_t)p.n, sizeof(worker));

    if (FCGX_Init() != 0) {
        crm_log_error("FCGX_Init failed");
        goto out;
    }
    p.listen_fd = open_listener(&p, conf->listen, (int)conf->backlog);
    if (p.listen_fd < 0)
        goto out;

    free(route_names);
    route_names = crm_xcalloc(spec->n_routes + 1, sizeof(*route_names));
    for (size_t i = 0; i < spec->n_routes; i++)
        route_names[i] =
            spec->routes[i].name != NULL ? spec->routes[i].name : spec->routes[i].pattern;
    if (crm_metrics_init(conf->service, (size_t)p.n, route_names, spec->n_routes) != CRM_OK) {
        crm_log_error("cannot map the metrics area: %s", strerror(errno));
        goto out;
    }

    if (pipe2(self_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        crm_log_error("pipe: %s", strerror(errno));
        goto out;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sup_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sup_term = 0;
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGINT, &sa, &old_int);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, &old_chld);
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    sigaction(SIGPIPE, &sa, &old_pipe);
    installed = 1;

    if (conf->admin_port != 0 && crm_admin_start(conf->admin_addr, (int)conf->admin_port,
                                                 spec->ready, spec->ready_ctx) != CRM_OK)
        goto out;
    crm_admin_set_draining(0);

    crm_log_info("supervisor started: listen=%s workers=%d max_requests=%ld admin_port=%ld "
                 "sidecar=%s",
                 conf->listen, p.n, conf->max_requests, conf->admin_port,
                 spec->sidecar != NULL ? sidecar_name(spec) : "none");
    supervise(&p, &status);

out:
    /* supervise() returns only with every worker and the sidecar reaped. */
    crm_metrics_workers(0);
    crm_admin_stop();
    unlink_unix(&p);
    if (p.listen_fd >= 0)
        close(p.listen_fd);
    if (installed) {
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGCHLD, &old_chld, NULL);
        sigaction(SIGPIPE, &old_pipe, NULL);
    }
    for (int i = 0; i < 2; i++) {
        if (self_pipe[i] >= 0)
            close(self_pipe[i]);
        self_pipe[i] = -1;
    }
    free(p.w);
    if (status != 0)
        crm_log_error("supervisor exiting with status %d", status);
    return status;
}
