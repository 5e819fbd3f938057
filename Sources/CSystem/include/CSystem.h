#ifndef KMODGUARD_CSYSTEM_H
#define KMODGUARD_CSYSTEM_H

/* The one C seam of kmodguard: the libc headers both programs use (the Embedded guard cannot
 * import Glibc), plus wrappers for what Swift cannot call directly (variadic open, the errno
 * macro) and the process arguments captured by a constructor (Embedded Swift has no
 * CommandLine). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int kg_argc(void);
const char *kg_argv(int index);

int kg_errno(void);
void kg_set_errno(int value);

int kg_open(const char *path, int flags, unsigned int mode);
int kg_openat(int dirfd, const char *path, int flags, unsigned int mode);

/* Monotonic clock in milliseconds. */
int64_t kg_monotonic_ms(void);
void kg_sleep_ms(int milliseconds);

/* signal(sig, SIG_IGN): SIG_IGN is a cast macro Swift cannot import. 0, or -1 with errno. */
static inline int kg_ignore_signal(int sig) { return signal(sig, SIG_IGN) == SIG_ERR ? -1 : 0; }

/* The pid holding a conflicting fcntl (POSIX) write lock on fd's whole file, as dpkg and apt
 * lock theirs; 0 when none, -1 with errno on failure (fcntl is variadic). */
int kg_posix_lock_holder(int fd);

/* d_type of a dirent without exposing the struct layout. */
const char *kg_dirent_name(const struct dirent *entry);

#endif
