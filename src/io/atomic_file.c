/* atomic_file.c: PATH.tmp, fsync, rename, fsync of the directory (see atomic_file.h). */
#include "baton/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

baton_status baton_atomic_open(baton_atomic_file *a, const char *path, const char *mode)
{
    memset(a, 0, sizeof *a);
    size_t n = strlen(path);
    a->tmp = malloc(n + 5);
    if (!a->tmp)
        return BATON_ERROR(BATON_ERR_OOM, "cannot write %s: no memory for a file name; %s is unchanged", path, path);
    memcpy(a->tmp, path, n);
    memcpy(a->tmp + n, ".tmp", 5);
    a->f = fopen(a->tmp, mode);
    if (!a->f) {
        baton_status st = BATON_ERROR(BATON_ERR_IO, "cannot write %s: cannot create %s: %s; %s is unchanged", path,
                                      a->tmp, strerror(errno), path);
        free(a->tmp);
        a->tmp = NULL;
        return st;
    }
    a->path = path;
    return BATON_OK;
}

/* Makes the rename durable: without it a crash right after could bring back the old directory
 * entry. Filesystems that cannot sync a directory say EINVAL; nothing more can be done there. */
static baton_status sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir)
        return BATON_ERROR(BATON_ERR_OOM, "wrote %s but has no memory to sync its directory", path);
    memcpy(dir, slash ? path : ".", n);
    dir[n] = '\0';
    baton_status st = BATON_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
        st = BATON_ERROR(BATON_ERR_IO, "wrote %s but cannot sync its directory %s: %s", path, dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(dir);
    return st;
}

baton_status baton_atomic_commit(baton_atomic_file *a)
{
    const char *step = NULL;
    int e = 0;
    /* the data must be on disk before the rename shows it under PATH; a full disk often shows only
     * here, when the buffered tail (or, on NFS, the whole file) reaches the filesystem */
    errno = 0;
    if (fflush(a->f) != 0 || ferror(a->f) || fsync(fileno(a->f)) != 0)
        step = "flushing", e = errno ? errno : EIO;
    if (fclose(a->f) != 0 && !step)
        step = "closing", e = errno;
    a->f = NULL;
    if (!step && rename(a->tmp, a->path) != 0)
        step = "renaming", e = errno;
    baton_status st = BATON_OK;
    if (step) {
        st = BATON_ERROR(BATON_ERR_IO, "cannot write %s (%s %s): %s; %s is unchanged", a->path, step, a->tmp,
                         strerror(e), a->path);
        remove(a->tmp);
    } else {
        st = sync_dir(a->path);
    }
    free(a->tmp);
    memset(a, 0, sizeof *a);
    return st;
}

void baton_atomic_abort(baton_atomic_file *a)
{
    if (a->f)
        fclose(a->f);
    if (a->tmp)
        remove(a->tmp);
    free(a->tmp);
    memset(a, 0, sizeof *a);
}

void baton_fault_write_pause(void)
{
    const char *ms = getenv("BATON_FAULT_WRITE_PAUSE_MS");
    long n = ms ? strtol(ms, NULL, 10) : 0;
    if (n > 0) {
        struct timespec ts = {n / 1000, (n % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}
