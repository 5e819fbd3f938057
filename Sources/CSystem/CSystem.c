#include "CSystem.h"

static int captured_argc;
static char **captured_argv;

#if defined(__GLIBC__)
/* glibc passes argc/argv/envp to ELF constructors, static binaries included. */
__attribute__((constructor)) static void kg_capture_arguments(int argc, char **argv, char **envp) {
    (void)envp;
    captured_argc = argc;
    captured_argv = argv;
}
#else
/* musl (the static guard) calls constructors without arguments. Find argc/argv from the
 * initial process stack instead (System V ABI: argc, argv[0..argc-1], NULL, envp...): musl sets
 * environ to that envp before running constructors, so argv ends at environ[-1] (NULL) and
 * argc is the first word below it that equals the number of words in between. Argument
 * pointers are never such small numbers. */
extern char **environ;

__attribute__((constructor)) static void kg_capture_arguments(void) {
    char **envp = environ;
    if (envp == NULL || envp[-1] != NULL) return;
    for (uintptr_t count = 0; count < 1u << 20; count++) {
        char **slot = envp - 2 - count;
        if ((uintptr_t)*slot == count) {
            captured_argc = (int)count;
            captured_argv = slot + 1;
            return;
        }
        if (*slot == NULL) return; /* not the layout we know: no arguments rather than garbage */
    }
}

/* The Embedded Swift runtime seeds its hashing with arc4random_buf, which musl 1.2.3 lacks.
 * getrandom without blocking: early in the initramfs the pool may not be ready yet, and a
 * hash seed does not need to be secret. */
#include <sys/random.h>

void arc4random_buf(void *buffer, size_t count) {
    unsigned char *bytes = buffer;
    while (count > 0) {
        ssize_t got = getrandom(bytes, count, GRND_NONBLOCK);
        if (got > 0) {
            bytes += got;
            count -= (size_t)got;
            continue;
        }
        if (got < 0 && errno == EINTR) continue;
        /* Pool not ready (EAGAIN) or no getrandom: fill from the clock instead. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t state = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)buffer;
        while (count > 0) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *bytes++ = (unsigned char)state;
            count--;
        }
    }
}
#endif

int kg_argc(void) { return captured_argc; }

const char *kg_argv(int index) {
    if (index < 0 || index >= captured_argc || captured_argv == NULL) return NULL;
    return captured_argv[index];
}

int kg_errno(void) { return errno; }
void kg_set_errno(int value) { errno = value; }

int kg_open(const char *path, int flags, unsigned int mode) { return open(path, flags, (mode_t)mode); }

int kg_openat(int dirfd, const char *path, int flags, unsigned int mode) {
    return openat(dirfd, path, flags, (mode_t)mode);
}

int64_t kg_monotonic_ms(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kg_sleep_ms(int milliseconds) {
    struct timespec ts = { milliseconds / 1000, (long)(milliseconds % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

const char *kg_dirent_name(const struct dirent *entry) { return entry->d_name; }

int kg_posix_lock_holder(int fd) {
    struct flock query = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    if (fcntl(fd, F_GETLK, &query) != 0) return -1;
    return query.l_type == F_UNLCK ? 0 : (int)query.l_pid;
}
