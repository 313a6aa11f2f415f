/* replay.c: a main for the fuzz targets without libFuzzer, so that their corpora run in the
 * normal test suite (built with cc and ASan + UBSan by t/fuzz/build.mk).
 *
 *   replay_<name> FILE|DIR...
 *
 * Calls LLVMFuzzerInitialize (if the target has one) once, then LLVMFuzzerTestOneInput on
 * every file named and on every regular file in the directories named (sorted by name), each
 * in a heap buffer of exactly its size so that ASan sees a read past the end. A broken
 * invariant aborts, a sanitizer report ends the run: either way the exit status is non-zero
 * and the input being run is named. Exits 1 as well if no input was found. */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#include <sanitizer/common_interface_defs.h>
#define REPLAY_SANITIZERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#include <sanitizer/common_interface_defs.h>
#define REPLAY_SANITIZERS 1
#endif
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static const char *current = "(none)";

/* Name the input that failed: on abort (a broken invariant) and on a sanitizer report. */
static void name_current(void)
{
    static const char prefix[] = "replay: failed on input ";
    if (write(2, prefix, sizeof(prefix) - 1) < 0 || write(2, current, strlen(current)) < 0 ||
        write(2, "\n", 1) < 0)
        return;
}

static void on_abort(int sig)
{
    name_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        perror(path);
        fclose(f);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size ? size : 1);
    if (!data || fread(data, 1, size, f) != size) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(data);
        fclose(f);
        return -1;
    }
    fclose(f);
    current = path;
    LLVMFuzzerTestOneInput(data, size);
    current = "(none)";
    free(data);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs the regular files of `dir`; returns how many ran, counts failures in *errors. */
static long run_dir(const char *dir, int *errors)
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        ++*errors;
        return 0;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(names, cap * sizeof(*names));
            if (!grown)
                abort();
            names = grown;
        }
        size_t len = strlen(dir) + 1 + strlen(e->d_name) + 1;
        names[n] = malloc(len);
        if (!names[n])
            abort();
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), by_name);
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(names[i]) != 0)
                ++*errors;
            else
                count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    signal(SIGABRT, on_abort);
#ifdef REPLAY_SANITIZERS
    __sanitizer_set_death_callback(name_current);
#endif
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    long total = 0;
    int errors = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            errors++;
        } else if (S_ISDIR(st.st_mode)) {
            total += run_dir(argv[i], &errors);
        } else if (run_file(argv[i]) != 0) {
            errors++;
        } else {
            total++;
        }
    }
    const char *prog = strrchr(argv[0], '/');
    prog = prog ? prog + 1 : argv[0];
    if (errors || total == 0) {
        fprintf(stderr, "%s: %ld inputs run, %s\n", prog, total,
                errors ? "some could not be read" : "no inputs found");
        return 1;
    }
    printf("%s: %ld inputs ok\n", prog, total);
    return 0;
}
