/* tw_name: the visitor's generated fake username ("adjective + animal + number", like
 * the original demo's) and the avatar derived from a name. httpd-free. */
#ifndef TW_NAME_H
#define TW_NAME_H

#include "tw_text.h"

#include <stddef.h>

/* Room for a name with its NUL. */
#define TW_NAME_MAX (TW_USERNAME_MAX + 1)

/* Build a name such as "BraveOtter42" from 4 random bytes into `buf` (TW_NAME_MAX bytes).
 * The same bytes give the same name. Returns the length. O(1). */
size_t tw_name_generate(const unsigned char rnd[4], char *buf);

/* Avatar initials of `name` (`n` bytes of [A-Za-z0-9_-]) into `out` (3 bytes): the first
 * character and the next capital letter after it, upper-cased; one letter if there is none. */
void tw_name_initials(const char *name, size_t n, char out[3]);

/* Avatar hue 0..359 derived from the name (FNV-1a), stable across processes and releases. */
unsigned tw_name_hue(const char *name, size_t n);

#endif
