/*
 * exit-on-term: an LD_PRELOAD module that turns SIGTERM into exit(), so a
 * client that has no SIGTERM handler of its own (GTK, Qt, weston demos) runs
 * its atexit handlers when a test stops it, and the library under test prints
 * its WAYLAND_VIRTGPU_STATS line. A client's own handler replaces this one.
 */

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static int exit_pipe[2] = { -1, -1 };

static void
handle_sigterm(int sig)
{
	char c = 1;
	ssize_t ignored = write(exit_pipe[1], &c, 1);

	(void) ignored;
}

/* exit() from an ordinary thread, not from the signal handler: atexit
 * handlers may take locks the interrupted code holds. */
static void *
exit_thread(void *data)
{
	char c;

	while (read(exit_pipe[0], &c, 1) != 1)
		;
	exit(143);
	return NULL;
}

__attribute__((constructor)) static void
exit_on_term_init(void)
{
	struct sigaction sa = { .sa_handler = handle_sigterm };
	pthread_t thread;
	sigset_t all, old;

	if (pipe2(exit_pipe, O_CLOEXEC) < 0)
		return;
	/* The thread takes no signals meant for the client. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&thread, NULL, exit_thread, NULL) == 0)
		pthread_detach(thread);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
}
