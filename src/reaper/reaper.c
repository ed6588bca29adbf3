/*
 * nodewasm-reaper: the per-process supervisor the shim keeps instead of a foreground runc.
 *
 *   nodewasm-reaper PIDFILE RUNC [ARGS...]
 *
 * Becomes a child subreaper, runs RUNC ARGS (a `runc run --detach` or `runc exec --detach` that
 * writes PIDFILE), and so becomes the parent of the process runc started once runc exits. Waits
 * for that process and exits with its status: its exit code, or 128 + the signal that ended it,
 * as `runc run` in the foreground does. Node cannot be a subreaper; a foreground runc can, but
 * costs about 10 MiB per container where this costs a few hundred KiB.
 *
 * If runc fails, exits with runc's status (its error is in runc's --log). Its own failures exit
 * 125. Its copies of stdin, stdout and stderr are closed once runc has them, so the process's
 * streams end when the process (and what it started) lets go of them, not when this exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define OWN_FAILURE 125

static int status_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return OWN_FAILURE;
}

static pid_t read_pid_file(const char *path) {
  FILE *file = fopen(path, "r");
  if (file == NULL) return -1;
  long pid = -1;
  if (fscanf(file, "%ld", &pid) != 1) pid = -1;
  fclose(file);
  return pid > 0 ? (pid_t)pid : -1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: nodewasm-reaper PIDFILE RUNC [ARGS...]\n");
    return 2;
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    perror("nodewasm-reaper: PR_SET_CHILD_SUBREAPER");
    return OWN_FAILURE;
  }
  pid_t runc = fork();
  if (runc < 0) {
    perror("nodewasm-reaper: fork");
    return OWN_FAILURE;
  }
  if (runc == 0) {
    execvp(argv[2], argv + 2);
    perror("nodewasm-reaper: exec runc");
    _exit(127);
  }

  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, STDIN_FILENO);
    dup2(devnull, STDOUT_FILENO);
    dup2(devnull, STDERR_FILENO);
  }

  int wait_status;
  while (waitpid(runc, &wait_status, 0) < 0) {
    if (errno != EINTR) return OWN_FAILURE;
  }
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) return status_of(wait_status);

  pid_t process = read_pid_file(argv[1]);
  if (process < 0) return OWN_FAILURE;
  for (;;) {
    pid_t reaped = waitpid(-1, &wait_status, 0);
    if (reaped == process) return status_of(wait_status);
    if (reaped < 0 && errno != EINTR) return OWN_FAILURE;
  }
}
