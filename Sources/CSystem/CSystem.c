#include "CSystem.h"

static int captured_argc;
static char **captured_argv;

/* glibc passes argc/argv/envp to ELF constructors, static binaries included. */
__attribute__((constructor)) static void kg_capture_arguments(int argc, char **argv, char **envp) {
    (void)envp;
    captured_argc = argc;
    captured_argv = argv;
}

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
