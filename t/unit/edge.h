/* edge.h: catching a read past the end of a buffer that ASan cannot see (APR and jansson are
 * not built with it). The bytes are copied flush against an inaccessible page, so a read of
 * the byte after them faults; the SIGSEGV (or SIGBUS) handler jumps back to the test, which
 * reports a failure instead of crashing.
 *
 *   edge_setup(pages)         once: `pages` usable pages, then the inaccessible one
 *   p = edge_place(s, n)      copy n bytes so that p[n] is the first inaccessible byte
 *   if (edge_faulted()) {...} in the caller's frame, before the call under test: true when
 *                              that call faulted (a sigsetjmp; the frame must still be live) */
#ifndef EDGE_H
#define EDGE_H

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define EDGE_API static __attribute__((unused))

static char *edge_end; /* the first inaccessible byte */
static size_t edge_room;
static sigjmp_buf edge_jump;

#define edge_faulted() sigsetjmp(edge_jump, 1)

EDGE_API void edge_fault(int sig)
{
    (void)sig;
    siglongjmp(edge_jump, 1);
}

EDGE_API void edge_setup(size_t pages)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *mem =
        mmap(NULL, (pages + 1) * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED || mprotect(mem + pages * page, page, PROT_NONE)) {
        perror("edge page");
        exit(2);
    }
    edge_end = mem + pages * page;
    edge_room = pages * page;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = edge_fault;
    if (sigaction(SIGSEGV, &sa, NULL) || sigaction(SIGBUS, &sa, NULL)) {
        perror("sigaction");
        exit(2);
    }
}

EDGE_API char *edge_place(const void *s, size_t n)
{
    if (n > edge_room) {
        fprintf(stderr, "edge: %zu bytes do not fit in %zu\n", n, edge_room);
        exit(2);
    }
    return memcpy(edge_end - n, s, n);
}

#endif
