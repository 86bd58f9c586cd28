/* emu_harness.c: what the emulation's test programs (test_emu, test_emu_lt) share: the check
 * lines, setup helpers that stop on failure, and the fork harness that runs a fault in a child
 * and reads what it printed. See test_emu.h. */
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <baton_emu.h>
#include <cuda_runtime_api.h>

#include "test_emu.h"

tu_report emu_rep;
int emu_bad;

int emu_check(const char *name, int ok, const char *why, ...)
{
    emu_rep.checks++;
    if (ok) {
        printf("%s: ok\n", name);
    } else {
        emu_rep.failures++;
        printf("%s: FAIL: ", name);
        va_list ap;
        va_start(ap, why);
        vprintf(why, ap);
        va_end(ap);
        printf("\n");
    }
    fflush(stdout);
    return ok;
}

uint64_t emu_errors(void)
{
    baton_emu_counters c;
    baton_emu_counters_get(&c);
    return c.errors;
}

int emu_races_checked(void)
{
    /* reverse against any other: forward and warp visit the blocks in order, random in an order
     * that may happen to be forward's for two blocks; reverse differs from each for sure */
    const char *s = getenv("BATON_EMU_SCHEDULES");
    if (!s || !*s)
        return 1;
    return strstr(s, "reverse") && (strstr(s, "forward") || strstr(s, "warp") || strstr(s, "random"));
}

void *dalloc(size_t bytes)
{
    void *p = NULL;
    CK(cudaMalloc(&p, bytes));
    return p;
}

void down(void *h, const void *d, size_t bytes)
{
    CK(cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost));
}

void up(void *d, const void *h, size_t bytes)
{
    CK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
}

/* The child's stderr, whole, until it closes the pipe. */
static char *read_all(int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *s = malloc(cap + 1);
    ssize_t got;
    while ((got = read(fd, s + len, cap - len)) > 0) {
        len += (size_t)got;
        if (len == cap)
            s = realloc(s, (cap *= 2) + 1);
    }
    s[len] = 0;
    return s;
}

void emu_isolated(const char *name, void (*fn)(void), int how, int status, const char *msg)
{
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(1);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        alarm(10); /* a hang is a failure, not a stuck test */
#ifdef __SANITIZE_ADDRESS__
        __lsan_disable(); /* the child ends at its fault, holding what it had: no leak to report */
#endif
        baton_emu_expect_errors(1);
        emu_bad = 0;
        fn();
        fflush(NULL);
        exit(emu_bad ? 3 : 0); /* exit, not _exit: the emulation's exit-status policy runs */
    }
    close(fds[1]);
    char *err = read_all(fds[0]);
    close(fds[0]);
    int ws = 0;
    waitpid(pid, &ws, 0);
    char full[160];
    snprintf(full, sizeof full, "fault: %s", name);
    int ended = how == EMU_EXIT_NORMAL ? WIFEXITED(ws) && WEXITSTATUS(ws) == status
                                       : WIFSIGNALED(ws) && WTERMSIG(ws) == status;
    int said = strstr(err, msg) != NULL;
    fprintf(stderr, "---- %s: the child's stderr:\n%s", full, err);
    emu_check(full, ended && said, "child %s %d (expected %s %d)%s%s%s",
              WIFEXITED(ws) ? "exited with" : "killed by signal",
              WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? WTERMSIG(ws) : -1,
              how == EMU_EXIT_NORMAL ? "exit" : "signal", status, said ? "" : "; its stderr lacks \"", said ? "" : msg,
              said ? "" : "\"");
    free(err);
}
